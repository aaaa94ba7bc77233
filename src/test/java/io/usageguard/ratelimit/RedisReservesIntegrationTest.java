package io.usageguard.ratelimit;

import static io.usageguard.ratelimit.RateLimitTestSupport.burst;
import static io.usageguard.ratelimit.RateLimitTestSupport.chat;
import static io.usageguard.ratelimit.RateLimitTestSupport.header;
import static io.usageguard.ratelimit.RateLimitTestSupport.tier;
import static io.usageguard.ratelimit.RateLimitTestSupport.unexpected;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.Http;
import io.usageguard.testsupport.MutableClock;
import io.usageguard.testsupport.PrivateRedis;
import io.usageguard.testsupport.Registries;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.test.web.reactive.server.EntityExchangeResult;

/**
 * Reserves taken ahead ({@link RedisReserves}) in the running application: two gateways sharing a
 * redis-server this test starts and one PostgreSQL registry, with {@code reserve-share} 0.1, on one
 * fake clock that never moves while requests are counted (daily and hourly windows refill nothing
 * in the 1.5 s it is moved). A busy key is served over HTTP with far fewer script calls than
 * requests and correct rate-limit headers; a concurrent burst on both replicas never passes the
 * limit, and once the replicas' unused reserves go back, exactly the whole limit has been admitted.
 */
class RedisReservesIntegrationTest {

    static PrivateRedis redis;
    static StubInferenceServer backend;
    static GatewayInstance a;
    static GatewayInstance b;
    static final MutableClock clock = new MutableClock();
    static final AtomicInteger accounts = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        redis = PrivateRedis.start();
        backend = StubInferenceServer.start();
        String schema = "ug_rs_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        Map<String, Object> p = new HashMap<>(Registries.postgres(schema));
        p.put("usage-guard.state.store", "redis");
        p.put("usage-guard.state.redis.url", redis.url());
        p.put("usage-guard.state.redis.key-prefix", "ugres-" + UUID.randomUUID().toString().substring(0, 8) + ":");
        p.put("usage-guard.state.redis.command-timeout", "1s"); // two gateways in one JVM on a busy machine
        p.put("usage-guard.state.redis.reserve-share", 0.1);
        p.putAll(tier("BIG", Map.of("rpm", 20_000, "rph", 20_000, "rpd", 20_000, "concurrency", 1000)));
        p.putAll(tier("DAY400", Map.of("rpm", 400, "rph", 400, "rpd", 400)));
        a = GatewayInstance.builder(backend.uri()).properties(p).clock(clock).start();
        b = GatewayInstance.builder(backend.uri()).properties(p).clock(clock).start();
    }

    @AfterAll
    static void stop() {
        for (GatewayInstance g : new GatewayInstance[]{a, b}) {
            if (g != null) {
                g.close();
            }
        }
        if (backend != null) {
            backend.close();
        }
        if (redis != null) {
            redis.close();
        }
    }

    static String key(String tier) {
        String id = "acct-res-" + accounts.incrementAndGet();
        a.account(id, tier, "INDIVIDUAL");
        return a.issueKey(id).key();
    }

    static long scriptCalls() throws Exception {
        return redis.calls("evalsha") + redis.calls("eval");
    }

    @Test
    void aBusyKeyIsServedWithFarFewerScriptCallsThanRequestsAndTrueHeaders() throws Exception {
        String key = key("BIG");
        long before = scriptCalls();
        EntityExchangeResult<String> last = null;
        for (int i = 0; i < 300; i++) {
            last = chat(a, key, "test-model", 10);
            assertThat(last.getStatus().value()).isEqualTo(200);
        }
        long calls = scriptCalls() - before;
        // without reserves: an admission and an end per request, at least 300 calls even when batched
        assertThat(calls).as("script calls for 300 requests").isLessThan(100);
        // what the reserve does not know is what other replicas took since its last top-up: none here
        long remaining = Long.parseLong(header(last, "x-ratelimit-remaining-requests"));
        assertThat(remaining).isBetween(20_000L - 300, 20_000L - 300 + 20);
        assertThat(header(last, "x-ratelimit-limit-requests")).isEqualTo("20000");
    }

    @Test
    void aBurstOnTwoReplicasNeverPassesTheLimitAndTheWholeLimitIsAdmittedOnceReservesGoBack() {
        String key = key("DAY400");
        Map<Integer, Integer> statuses = burst(List.of(a, b), key, 600, 64);
        assertThat(unexpected(statuses)).as("statuses other than 200 and 429").isEmpty();
        AtomicInteger ok = new AtomicInteger(statuses.getOrDefault(200, 0));
        assertThat(ok.get()).as("never past the limit").isLessThanOrEqualTo(400)
                .as("short of it by at most what the two replicas may hold ahead (10 %% each)").isGreaterThanOrEqualTo(320);
        // a second and a half later (no refill of a daily 400 in that time) the reserves have gone back
        clock.advance(Duration.ofMillis(1500));
        Http.await(Duration.ofSeconds(20), "the whole limit admitted", () -> {
            for (GatewayInstance g : List.of(a, b)) {
                if (ok.get() < 400 && chat(g, key, "test-model", 5).getStatus().value() == 200) {
                    ok.incrementAndGet();
                }
            }
            return ok.get() >= 400;
        });
        assertThat(ok.get()).isEqualTo(400);
        assertThat(chat(a, key, "test-model", 5).getStatus().value()).isEqualTo(429);
        assertThat(chat(b, key, "test-model", 5).getStatus().value()).isEqualTo(429);
    }
}
