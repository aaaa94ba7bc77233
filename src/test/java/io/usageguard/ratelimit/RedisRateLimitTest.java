package io.usageguard.ratelimit;

import static io.usageguard.ratelimit.RateLimitTestSupport.await;
import static io.usageguard.ratelimit.RateLimitTestSupport.burst;
import static io.usageguard.ratelimit.RateLimitTestSupport.chat;
import static io.usageguard.ratelimit.RateLimitTestSupport.header;
import static io.usageguard.ratelimit.RateLimitTestSupport.metric;
import static io.usageguard.ratelimit.RateLimitTestSupport.tier;
import static io.usageguard.ratelimit.RateLimitTestSupport.unexpected;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.MutableClock;
import io.usageguard.testsupport.PrivateRedis;
import io.usageguard.testsupport.Registries;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;

/**
 * Replicas sharing limits through Redis, and what happens when Redis dies: a redis-server this test
 * starts (and kills), four gateways sharing it and one PostgreSQL registry, one fake clock.
 * A and B use {@code local-fallback} (2 replicas), C {@code fail-open}, D {@code fail-closed}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RedisRateLimitTest {

    static PrivateRedis redis;
    static int redisPort;
    static StubInferenceServer backend;
    static GatewayInstance a;
    static GatewayInstance b;
    static GatewayInstance c;
    static GatewayInstance d;
    static MutableClock clock = new MutableClock();
    static String prefix = "ugtest-" + UUID.randomUUID().toString().substring(0, 8) + ":";
    static RedisClient redisClient;
    static final AtomicInteger accounts = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        redis = PrivateRedis.start();
        redisPort = redis.port();
        backend = StubInferenceServer.start();
        String schema = "ug_rl_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        Map<String, Object> p = new HashMap<>(Registries.postgres(schema));
        p.put("usage-guard.state.store", "redis");
        p.put("usage-guard.state.redis.url", "redis://127.0.0.1:" + redisPort);
        p.put("usage-guard.state.redis.key-prefix", prefix);
        p.put("usage-guard.state.redis.replicas", 2);
        p.put("usage-guard.state.circuit-breaker.open-duration", "500ms");
        // The production default is 50 ms. This machine runs four gateways in one JVM next to other
        // builds, where a 50 ms timeout would (by design) switch replicas to local-fallback in the
        // middle of the burst; the kill test does not depend on timeouts (a dead Redis refuses at once).
        p.put("usage-guard.state.redis.command-timeout", "1s");
        p.putAll(tier("RPM10", Map.of("rpm", 10)));
        p.putAll(tier("RPM2", Map.of("rpm", 2)));
        p.putAll(tier("BURST", Map.of("rpd", 100)));
        p.putAll(tier("CONC", Map.of("concurrency", 2)));
        a = GatewayInstance.builder(backend.uri()).properties(p).clock(clock)
                .property("usage-guard.state.on-store-failure", "local-fallback").start();
        b = GatewayInstance.builder(backend.uri()).properties(p).clock(clock)
                .property("usage-guard.state.on-store-failure", "local-fallback").start();
        c = GatewayInstance.builder(backend.uri()).properties(p).clock(clock)
                .property("usage-guard.state.on-store-failure", "fail-open").start();
        d = GatewayInstance.builder(backend.uri()).properties(p).clock(clock)
                .property("usage-guard.state.on-store-failure", "fail-closed").start();
        redisClient = RedisClient.create("redis://127.0.0.1:" + redisPort);
    }

    @AfterAll
    static void stop() {
        for (GatewayInstance g : new GatewayInstance[]{a, b, c, d}) {
            if (g != null) {
                g.close();
            }
        }
        if (redisClient != null) {
            redisClient.shutdown();
        }
        backend.close();
        if (redis != null) {
            redis.close();
        }
    }

    static String account(GatewayInstance g, String tier) {
        String id = "acct-" + tier.toLowerCase() + "-" + accounts.incrementAndGet();
        g.account(id, tier, "INDIVIDUAL");
        return id;
    }

    static int status(GatewayInstance g, String key) {
        return chat(g, key, "test-model", 10).getStatus().value();
    }

    @Test
    @Order(1)
    void replicasShareTheAccountsLimitAndEveryKeyIsHashTaggedWithATtl() {
        String account = account(a, "RPM10");
        String keyA = a.issueKey(account).key();
        String keyB = a.issueKey(account).key();
        for (int i = 0; i < 5; i++) {
            assertThat(status(a, keyA)).isEqualTo(200);
            assertThat(status(b, keyB)).isEqualTo(200);
        }
        EntityExchangeResult<String> refused = chat(b, keyA, "test-model", 10);
        assertThat(refused.getStatus().value()).isEqualTo(429);
        assertThat(header(refused, "x-ratelimit-remaining-requests")).isEqualTo("0");
        assertThat(status(a, keyB)).isEqualTo(429);

        try (StatefulRedisConnection<String, String> conn = redisClient.connect()) {
            RedisCommands<String, String> r = conn.sync();
            List<String> keys = r.scan(ScanArgs.Builder.matches(prefix + "*").limit(1000)).getKeys();
            assertThat(keys).anyMatch(k -> k.contains("{" + account + "}"));
            for (String k : keys) {
                if (k.contains("{" + account + "}")) {
                    assertThat(k).startsWith(prefix + "rl:{" + account + "}:");
                }
                assertThat(r.pttl(k)).as("TTL of %s", k).isPositive();
            }
        }
    }

    @Test
    @Order(2)
    void aConcurrentBurstOnTwoReplicasAdmitsAtMostTheLimit() {
        String account = account(a, "BURST");
        String key = a.issueKey(account).key();
        Map<Integer, Integer> statuses = burst(List.of(a, b), key, 300, 64);
        assertThat(unexpected(statuses)).as("statuses other than 200 and 429").isEmpty();
        int ok = statuses.getOrDefault(200, 0);
        assertThat(ok).isLessThanOrEqualTo(101).isGreaterThanOrEqualTo(95);
        assertThat(ok + statuses.getOrDefault(429, 0)).isEqualTo(300);
        assertThat(metric(a, "usage_guard_state_store_errors_total{store=\"redis\"}")
                + metric(b, "usage_guard_state_store_errors_total{store=\"redis\"}")).isZero();
    }

    @Test
    @Order(3)
    void concurrencyIsSharedAndADeadReplicasSlotsExpire() {
        backend.reset().eventInterval(Duration.ofMillis(300)).completionTokens(100);
        String account = account(a, "CONC");
        String key = a.issueKey(account).key();
        List<Disposable> streams = new ArrayList<>();
        try {
            for (GatewayInstance g : List.of(a, b)) {
                streams.add(WebClient.create("http://127.0.0.1:" + g.apiPort()).post().uri("/v1/chat/completions")
                        .header("Authorization", "Bearer " + key).contentType(MediaType.APPLICATION_JSON)
                        .bodyValue("{\"model\":\"test-model\",\"stream\":true,\"messages\":[]}")
                        .retrieve().bodyToFlux(String.class).subscribe(s -> { }, e -> { }));
            }
            await("two streams open", () -> backend.inFlight() == 2);
            EntityExchangeResult<String> refused = chat(a, key, "test-model", 10);
            assertThat(refused.getStatus().value()).isEqualTo(429);
            assertThat(refused.getResponseBody()).contains("concurrency_limit_exceeded");
            assertThat(status(b, key)).isEqualTo(429);
        } finally {
            streams.forEach(Disposable::dispose);
        }
        backend.reset();
        await("slots freed", () -> status(b, key) == 200);
        // a replica that died holding two slots: its leases are still in Redis, nobody releases them
        String counter = prefix + "rl:{" + account + "}:test-model:conc";
        try (StatefulRedisConnection<String, String> conn = redisClient.connect()) {
            long expiry = clock.millis() + Duration.ofSeconds(30).toMillis();
            conn.sync().zadd(counter, expiry, "dead-replica:1");
            conn.sync().zadd(counter, expiry, "dead-replica:2");
        }
        assertThat(status(a, key)).isEqualTo(429);
        clock.advance(Duration.ofSeconds(31));
        assertThat(status(a, key)).isEqualTo(200);
    }

    @Test
    @Order(4)
    void killingRedisGivesEachPolicysBehaviourAndLimitsAreSharedAgainAfterItReturns() throws Exception {
        backend.reset();
        clock.advance(Duration.ofMinutes(5)); // every earlier per-minute bucket is full again
        // accounts are made while Redis is up (admin changes are announced through it)
        String fallbackAccount = account(a, "RPM10");
        String fallbackKeyA = a.issueKey(fallbackAccount).key();
        String fallbackKeyB = a.issueKey(fallbackAccount).key();
        String openKey = a.issueKey(account(a, "RPM2")).key();
        String closedKey = a.issueKey(account(a, "RPM10")).key();
        String sharedAccount = account(a, "RPM10");
        String sharedKey = a.issueKey(sharedAccount).key();
        String probe = a.issueKey(account(a, "BURST")).key();
        for (GatewayInstance g : List.of(a, b, c, d)) {
            status(g, probe); // every replica has the keys and accounts cached and is connected
        }

        redis.kill();

        // local-fallback: each replica enforces its share, 10 / 2 replicas = 5
        for (GatewayInstance g : List.of(a, b)) {
            for (int i = 0; i < 5; i++) {
                assertThat(status(g, g == a ? fallbackKeyA : fallbackKeyB)).as("fallback request %d", i).isEqualTo(200);
            }
            EntityExchangeResult<String> refused = chat(g, fallbackKeyA, "test-model", 10);
            assertThat(refused.getStatus().value()).isEqualTo(429);
            assertThat(header(refused, "x-ratelimit-limit-requests")).isEqualTo("5");
        }
        assertThat(metric(a, "usage_guard_state_store_fallback{store=\"redis\"}")).isEqualTo(1.0);
        assertThat(metric(a, "usage_guard_state_store_errors_total{store=\"redis\"}")).isPositive();
        // fail-open: the limit of 2 is not enforced while the store is down
        for (int i = 0; i < 5; i++) {
            assertThat(status(c, openKey)).isEqualTo(200);
        }
        // fail-closed: 503 overloaded, with Retry-After
        for (int i = 0; i < 3; i++) {
            EntityExchangeResult<String> closed = chat(d, closedKey, "test-model", 10);
            assertThat(closed.getStatus().value()).isEqualTo(503);
            assertThat(closed.getResponseBody()).contains("\"code\":\"overloaded\"");
            assertThat(header(closed, "Retry-After")).isNotNull();
        }

        redis.restart();
        for (GatewayInstance g : List.of(a, b, c, d)) {
            await("back on Redis", () -> {
                int s = status(g, probe);
                assertThat(s).isIn(200, 503);
                return s == 200 && metric(g, "usage_guard_state_store_fallback{store=\"redis\"}") == 0.0;
            });
        }
        // shared again: 10 across both replicas, then refused on both
        String sharedKeyB = a.issueKey(sharedAccount).key();
        for (int i = 0; i < 5; i++) {
            assertThat(status(a, sharedKey)).isEqualTo(200);
            assertThat(status(b, sharedKeyB)).isEqualTo(200);
        }
        assertThat(status(a, sharedKey)).isEqualTo(429);
        assertThat(status(b, sharedKeyB)).isEqualTo(429);
        assertThat(status(d, closedKey)).isEqualTo(200);
    }
}
