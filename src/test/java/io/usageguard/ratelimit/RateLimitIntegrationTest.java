package io.usageguard.ratelimit;

import static io.usageguard.ratelimit.RateLimitTestSupport.await;
import static io.usageguard.ratelimit.RateLimitTestSupport.chat;
import static io.usageguard.ratelimit.RateLimitTestSupport.header;
import static io.usageguard.ratelimit.RateLimitTestSupport.images;
import static io.usageguard.ratelimit.RateLimitTestSupport.metric;
import static io.usageguard.ratelimit.RateLimitTestSupport.tier;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.MutableClock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.Disposable;

/**
 * Rate limits on one replica with the in-memory store: the running gateway over HTTP, the real stub
 * backend, a fake clock moved by hand. Every test uses its own account, so buckets never mix.
 */
class RateLimitIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static MutableClock clock = new MutableClock();
    static final AtomicInteger accounts = new AtomicInteger();

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        Map<String, Object> p = new HashMap<>();
        p.putAll(tier("RPM", Map.of("rpm", 3)));
        p.putAll(tier("RPH", Map.of("rph", 3)));
        p.putAll(tier("RPD", Map.of("rpd", 3)));
        p.putAll(tier("TPM", Map.of("tpm", 1000)));
        p.putAll(tier("TPD", Map.of("tpd", 1000)));
        p.putAll(tier("IPM", Map.of("ipm", 5)));
        p.putAll(tier("IPD", Map.of("ipd", 5)));
        p.putAll(tier("CONC", Map.of("concurrency", 2)));
        p.putAll(tier("KEYCAP", Map.of("rpm", 10, "per-key.rpm", 2)));
        p.putAll(tier("SHADOW", Map.of("rpm", 1, "mode", "shadow")));
        p.putAll(tier("RECON", Map.of("tpm", 500)));
        p.putAll(tier("MODEL", Map.of("rpm", 100)));
        // a model overriding one tier's limit, a model in shadow mode, a model with a global ceiling
        p.put("usage-guard.models.[tight-model].backend", "default");
        p.put("usage-guard.models.[tight-model].tiers.MODEL.rpm", 1);
        p.put("usage-guard.models.[shadow-model].backend", "default");
        p.put("usage-guard.models.[shadow-model].limits-mode", "shadow");
        p.put("usage-guard.models.[shadow-model].tiers.MODEL.rpm", 1);
        p.put("usage-guard.models.[global-model].backend", "default");
        p.put("usage-guard.models.[global-model].global.rpm", 3);
        p.putAll(tier("THROTTLE", Map.of("rpm", 20)));
        // key sharing's throttle action cuts a shared key's limits through LimitAdjustments
        p.put("usage-guard.client-ip.trusted-proxies", "127.0.0.1/32");
        p.put("usage-guard.sharing.action", "throttle");
        p.put("usage-guard.sharing.warn-networks", "2");
        p.put("usage-guard.sharing.block-networks", "3");
        p.put("usage-guard.sharing.throttle-factor", "0.5");
        // an unknown tier counts as the default tier
        p.put("usage-guard.limits.default-tier", "RPM");
        gateway = GatewayInstance.builder(backend.uri()).properties(p).clock(clock).start();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        backend.close();
    }

    @BeforeEach
    void reset() {
        backend.reset();
    }

    /** A fresh account of the tier and one key of it. */
    static String key(String tier) {
        String account = "acct-" + tier.toLowerCase() + "-" + accounts.incrementAndGet();
        gateway.account(account, tier, "INDIVIDUAL");
        return gateway.issueKey(account).key();
    }

    static LocalLimitStore store() {
        return (LocalLimitStore) gateway.bean(LimitStores.class).primary();
    }

    /** Every bucket of the account whose key this is, by storage key, once reconciliations have settled. */
    static Map<String, List<Long>> buckets(String accountFragment) {
        Map<String, List<Long>> previous = null;
        for (int i = 0; i < 100; i++) {
            Map<String, List<Long>> now = new HashMap<>();
            for (String k : store().keys()) {
                if (k.contains("{" + accountFragment + "}")) {
                    long[] a = store().available(k);
                    List<Long> l = new ArrayList<>();
                    for (long v : a) {
                        l.add(v);
                    }
                    now.put(k, l);
                }
            }
            if (now.equals(previous)) {
                return now;
            }
            previous = now;
            sleep(50);
        }
        return previous;
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static long retryAfter(EntityExchangeResult<?> r) {
        String v = header(r, "Retry-After");
        assertThat(v).as("Retry-After").isNotNull();
        long s = Long.parseLong(v);
        assertThat(s).isGreaterThanOrEqualTo(1);
        return s;
    }

    /**
     * The shared shape of the window tests: {@code passes} requests pass, the next is refused with the
     * given code naming the window, consuming nothing from any bucket of the account, and after
     * waiting the Retry-After the next one passes.
     */
    void windowRefusesAlone(String tier, int passes, Supplier<EntityExchangeResult<String>> request,
                            String code, String names) {
        for (int i = 0; i < passes; i++) {
            EntityExchangeResult<String> ok = request.get();
            assertThat(ok.getStatus().value()).as("request %d of %d", i + 1, passes).isEqualTo(200);
        }
        String account = "acct-" + tier.toLowerCase() + "-" + accounts.get();
        Map<String, List<Long>> before = buckets(account);
        assertThat(before).isNotEmpty();
        EntityExchangeResult<String> refused = request.get();
        assertThat(refused.getStatus().value()).isEqualTo(429);
        assertThat(refused.getResponseBody()).contains("\"code\":\"" + code + "\"").contains(names);
        long wait = retryAfter(refused);
        // the refusal took nothing from any window of any bucket (the clock has not moved)
        assertThat(buckets(account)).isEqualTo(before);
        clock.advance(Duration.ofSeconds(wait));
        assertThat(request.get().getStatus().value()).as("after Retry-After").isEqualTo(200);
    }

    @Test
    void nRequestsPerMinutePassThenRefusedWithRetryAfterThenRefill() {
        String key = key("RPM");
        for (int i = 0; i < 3; i++) {
            EntityExchangeResult<String> ok = chat(gateway, key, "test-model", 10);
            assertThat(ok.getStatus().value()).isEqualTo(200);
            assertThat(header(ok, "x-ratelimit-limit-requests")).isEqualTo("3");
            assertThat(header(ok, "x-ratelimit-remaining-requests")).isEqualTo(Integer.toString(2 - i));
        }
        EntityExchangeResult<String> refused = chat(gateway, key, "test-model", 10);
        assertThat(refused.getStatus().value()).isEqualTo(429);
        assertThat(refused.getResponseBody()).contains("\"code\":\"rate_limit_exceeded\"")
                .contains("requests per minute (RPM) limit of 3").contains("test-model")
                .contains("\"type\":\"rate_limit_error\"");
        assertThat(header(refused, "x-ratelimit-remaining-requests")).isEqualTo("0");
        assertThat(header(refused, "x-ratelimit-reset-requests")).isEqualTo("1m0s");
        assertThat(header(refused, "RateLimit-Policy")).startsWith("\"rpm\";q=3;w=60");
        assertThat(header(refused, "RateLimit")).startsWith("\"rpm\";r=0;t=60");
        // 3 per minute refill one every 20 s: that is the Retry-After, and not a second less
        assertThat(retryAfter(refused)).isEqualTo(20);
        clock.advance(Duration.ofSeconds(19));
        assertThat(chat(gateway, key, "test-model", 10).getStatus().value()).isEqualTo(429);
        clock.advance(Duration.ofSeconds(1));
        assertThat(chat(gateway, key, "test-model", 10).getStatus().value()).isEqualTo(200);
        assertThat(backend.requests()).isEqualTo(4);
    }

    @Test
    void tokensPerMinute() {
        backend.completionTokens(300);
        String key = key("TPM");
        for (int i = 0; i < 3; i++) {
            EntityExchangeResult<String> ok = chat(gateway, key, "test-model", 300);
            assertThat(ok.getStatus().value()).isEqualTo(200);
            assertThat(header(ok, "x-ratelimit-limit-tokens")).isEqualTo("1000");
        }
        await("usage reconciled", () -> buckets("acct-tpm-" + accounts.get()).values().stream()
                .anyMatch(v -> v.size() == 2 && v.get(0) < 300));
        EntityExchangeResult<String> refused = chat(gateway, key, "test-model", 300);
        assertThat(refused.getStatus().value()).isEqualTo(429);
        assertThat(refused.getResponseBody()).contains("rate_limit_exceeded").contains("tokens per minute (TPM) limit of 1000");
        long remaining = Long.parseLong(header(refused, "x-ratelimit-remaining-tokens"));
        assertThat(remaining).isLessThan(300);
        long wait = retryAfter(refused);
        assertThat(wait).isBetween(1L, 60L);
        clock.advance(Duration.ofSeconds(wait));
        assertThat(chat(gateway, key, "test-model", 300).getStatus().value()).isEqualTo(200);
    }

    @Test
    void concurrencyNStreamsOpenThenRefusedThenAClosedStreamFreesItsSlot() {
        backend.eventInterval(Duration.ofMillis(300)).completionTokens(100);
        String key = key("CONC");
        WebClient client = WebClient.create("http://127.0.0.1:" + gateway.apiPort());
        List<Disposable> streams = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                streams.add(client.post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                        .contentType(MediaType.APPLICATION_JSON)
                        .bodyValue("{\"model\":\"test-model\",\"stream\":true,\"max_tokens\":100,\"messages\":[]}")
                        .retrieve().bodyToFlux(String.class).subscribe(s -> { }, e -> { }));
            }
            await("two streams open", () -> backend.inFlight() == 2);
            EntityExchangeResult<String> refused = chat(gateway, key, "test-model", 10);
            assertThat(refused.getStatus().value()).isEqualTo(429);
            assertThat(refused.getResponseBody()).contains("concurrency_limit_exceeded").contains("at most 2 requests in flight");
            retryAfter(refused);
            streams.remove(0).dispose();
            await("a freed slot", () -> chat(gateway, key, "test-model", 10).getStatus().value() == 200);
        } finally {
            streams.forEach(Disposable::dispose);
        }
    }

    @Test
    void dailyQuotaIsQuotaExceededUntilTheDayRefills() {
        String key = key("RPD");
        windowRefusesAlone("RPD", 3, () -> chat(gateway, key, "test-model", 10), "quota_exceeded",
                "requests per day (RPD) limit of 3");
    }

    @Test
    void windowRpm() {
        String key = key("RPM");
        windowRefusesAlone("RPM", 3, () -> chat(gateway, key, "test-model", 10), "rate_limit_exceeded",
                "requests per minute (RPM) limit of 3");
    }

    @Test
    void windowRph() {
        String key = key("RPH");
        windowRefusesAlone("RPH", 3, () -> chat(gateway, key, "test-model", 10), "rate_limit_exceeded",
                "requests per hour (RPH) limit of 3");
    }

    @Test
    void windowRpd() {
        String key = key("RPD");
        windowRefusesAlone("RPD", 3, () -> chat(gateway, key, "test-model", 10), "quota_exceeded",
                "requests per day (RPD) limit of 3");
    }

    @Test
    void windowTpm() {
        backend.completionTokens(300);
        String key = key("TPM");
        windowRefusesAlone("TPM", 3, () -> chat(gateway, key, "test-model", 300), "rate_limit_exceeded",
                "tokens per minute (TPM) limit of 1000");
    }

    @Test
    void windowTpd() {
        backend.completionTokens(300);
        String key = key("TPD");
        windowRefusesAlone("TPD", 3, () -> chat(gateway, key, "test-model", 300), "quota_exceeded",
                "tokens per day (TPD) limit of 1000");
    }

    @Test
    void windowIpm() {
        String key = key("IPM");
        windowRefusesAlone("IPM", 2, () -> images(gateway, key, "test-model", 2), "rate_limit_exceeded",
                "images per minute (IPM) limit of 5");
    }

    @Test
    void windowIpd() {
        String key = key("IPD");
        windowRefusesAlone("IPD", 2, () -> images(gateway, key, "test-model", 2), "quota_exceeded",
                "images per day (IPD) limit of 5");
    }

    @Test
    void twoKeysOfOneAccountShareTheAccountsLimit() {
        String account = "acct-shared-" + accounts.incrementAndGet();
        gateway.account(account, "RPM", "INDIVIDUAL");
        String a = gateway.issueKey(account).key();
        String b = gateway.issueKey(account).key();
        assertThat(chat(gateway, a, "test-model", 10).getStatus().value()).isEqualTo(200);
        assertThat(chat(gateway, b, "test-model", 10).getStatus().value()).isEqualTo(200);
        assertThat(chat(gateway, a, "test-model", 10).getStatus().value()).isEqualTo(200);
        assertThat(chat(gateway, b, "test-model", 10).getStatus().value()).isEqualTo(429);
        assertThat(chat(gateway, a, "test-model", 10).getStatus().value()).isEqualTo(429);
        // a third key minted now does not raise the share either
        assertThat(chat(gateway, gateway.issueKey(account).key(), "test-model", 10).getStatus().value()).isEqualTo(429);
    }

    @Test
    void perKeyCapRefusesOneKeyWhileTheAccountsOtherKeyPasses() {
        String account = "acct-keycap-" + accounts.incrementAndGet();
        gateway.account(account, "KEYCAP", "INDIVIDUAL");
        String a = gateway.issueKey(account).key();
        String b = gateway.issueKey(account).key();
        assertThat(chat(gateway, a, "test-model", 10).getStatus().value()).isEqualTo(200);
        EntityExchangeResult<String> second = chat(gateway, a, "test-model", 10);
        assertThat(second.getStatus().value()).isEqualTo(200);
        assertThat(header(second, "x-ratelimit-remaining-requests")).isEqualTo("0"); // the key's cap is the tightest
        EntityExchangeResult<String> refused = chat(gateway, a, "test-model", 10);
        assertThat(refused.getStatus().value()).isEqualTo(429);
        assertThat(refused.getResponseBody()).contains("per-key requests per minute (RPM) limit of 2");
        EntityExchangeResult<String> other = chat(gateway, b, "test-model", 10);
        assertThat(other.getStatus().value()).isEqualTo(200);
        assertThat(header(other, "x-ratelimit-remaining-requests")).isEqualTo("1");
    }

    @Test
    void shadowModeRefusesNothingAndCountsWouldBeRefusals() {
        double before = metric(gateway, "usage_guard_rate_limit_refusals_total{limit=\"rpm\",mode=\"shadow\"}");
        String key = key("SHADOW");
        for (int i = 0; i < 4; i++) {
            EntityExchangeResult<String> r = chat(gateway, key, "test-model", 10);
            assertThat(r.getStatus().value()).isEqualTo(200);
            assertThat(header(r, "x-ratelimit-remaining-requests")).isEqualTo("0");
        }
        // per model too: tight-model refuses its second request, shadow-model (same limit, shadow) does not
        String modelKey = key("MODEL");
        assertThat(chat(gateway, modelKey, "tight-model", 10).getStatus().value()).isEqualTo(200);
        assertThat(chat(gateway, modelKey, "tight-model", 10).getStatus().value()).isEqualTo(429);
        for (int i = 0; i < 3; i++) {
            assertThat(chat(gateway, modelKey, "shadow-model", 10).getStatus().value()).isEqualTo(200);
        }
        double after = metric(gateway, "usage_guard_rate_limit_refusals_total{limit=\"rpm\",mode=\"shadow\"}");
        assertThat(after - before).isEqualTo(3 + 2);
        assertThat(backend.requests()).isEqualTo(4 + 1 + 3);
    }

    @Test
    void modelOverridesTheTierAndEachModelHasItsOwnBuckets() {
        String key = key("MODEL");
        assertThat(chat(gateway, key, "tight-model", 10).getStatus().value()).isEqualTo(200);
        assertThat(chat(gateway, key, "tight-model", 10).getResponseBody()).contains("requests per minute (RPM) limit of 1");
        assertThat(chat(gateway, key, "test-model", 10).getStatus().value()).isEqualTo(200);
    }

    @Test
    void globalCeilingCountsAllCallersTogether() {
        String a = key("MODEL");
        String b = key("MODEL");
        assertThat(chat(gateway, a, "global-model", 10).getStatus().value()).isEqualTo(200);
        assertThat(chat(gateway, b, "global-model", 10).getStatus().value()).isEqualTo(200);
        assertThat(chat(gateway, a, "global-model", 10).getStatus().value()).isEqualTo(200);
        EntityExchangeResult<String> refused = chat(gateway, b, "global-model", 10);
        assertThat(refused.getStatus().value()).isEqualTo(429);
        assertThat(refused.getResponseBody()).contains("global requests per minute (RPM) limit of 3");
    }

    @Test
    void unknownTierGetsTheDefaultTiersLimits() {
        String key = key("NO-SUCH-TIER");
        for (int i = 0; i < 3; i++) {
            assertThat(chat(gateway, key, "test-model", 10).getStatus().value()).isEqualTo(200);
        }
        assertThat(chat(gateway, key, "test-model", 10).getStatus().value()).isEqualTo(429);
    }

    @Test
    void tokenReservationIsRefundedWhenTheRealUsageIsLower() {
        // 500 TPM; each request reserves ~400 (max_tokens) + its prompt, and really uses ~30
        String key = key("RECON");
        EntityExchangeResult<String> first = chat(gateway, key, "test-model", 400);
        assertThat(first.getStatus().value()).isEqualTo(200);
        assertThat(Long.parseLong(header(first, "x-ratelimit-remaining-tokens"))).isLessThan(100);
        // without the refund the bucket holds < 100 and this could never pass before the clock moves
        await("the follow-up passes thanks to the refund",
                () -> chat(gateway, key, "test-model", 400).getStatus().value() == 200);
    }

    @Test
    void aThrottledKeyGetsItsFactorOfTheAccountsLimitWhileTheOtherKeyPasses() {
        String account = "acct-throttle-" + accounts.incrementAndGet();
        gateway.account(account, "THROTTLE", "INDIVIDUAL");
        String shared = gateway.issueKey(account).key();
        String other = gateway.issueKey(account).key();
        for (String ip : List.of("10.5.1.1", "10.5.2.1", "10.5.3.1", "10.5.4.1")) {
            assertThat(gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + shared)
                    .header("X-Forwarded-For", ip).contentType(MediaType.APPLICATION_JSON)
                    .bodyValue("{\"model\":\"test-model\",\"max_tokens\":10}").exchange()
                    .returnResult(String.class).getStatus().value()).isEqualTo(200);
        }
        // used from a 4th network: from that request on, throttled to 0.5 x the account's 20 RPM = 10
        for (int i = 0; i < 9; i++) {
            EntityExchangeResult<String> ok = chat(gateway, shared, "test-model", 10);
            assertThat(ok.getStatus().value()).as("throttled request %d", i + 1).isEqualTo(200);
            assertThat(header(ok, "x-ratelimit-limit-requests")).isEqualTo("10");
        }
        EntityExchangeResult<String> refused = chat(gateway, shared, "test-model", 10);
        assertThat(refused.getStatus().value()).isEqualTo(429);
        assertThat(refused.getResponseBody()).contains("per-key requests per minute (RPM) limit of 10");
        // the account has 20 - 13 = 7 left for its other key
        EntityExchangeResult<String> ok = chat(gateway, other, "test-model", 10);
        assertThat(ok.getStatus().value()).isEqualTo(200);
        assertThat(header(ok, "x-ratelimit-remaining-requests")).isEqualTo("6");
    }

    @Test
    void requestsWithoutLimitsCarryNoHeadersAndUnlimitedTiersPass() {
        String account = "acct-free-" + accounts.incrementAndGet();
        gateway.account(account, "RPM", "INDIVIDUAL");
        EntityExchangeResult<String> ok = chat(gateway, gateway.issueKey(account).key(), "test-model", 10);
        assertThat(header(ok, "x-ratelimit-limit-tokens")).isEqualTo("10000000");
        assertThat(header(ok, "RateLimit-Policy")).contains("\"tpm\";q=10000000;w=60;qu=\"tokens\"");
    }
}
