package io.usageguard.bench;

import java.lang.reflect.Field;
import java.net.InetSocketAddress;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.pipeline.GuardPipeline;
import io.usageguard.ratelimit.LimitStores;
import io.usageguard.sharing.KeySharingMonitor;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.Test;
import org.openjdk.jol.info.GraphLayout;
import org.springframework.http.MediaType;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.http.server.reactive.MockServerHttpResponse;
import org.springframework.web.server.adapter.DefaultServerWebExchange;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bytes of limiter and sharing state per active key in {@code local} state, with every restriction
 * on: each of N accounts with one key sends requests through the real pipeline (all seven windows,
 * concurrency and per-key caps configured), then the retained graphs of the local limit store's
 * and the sharing monitor's caches are measured with JOL (headers and padding included), less
 * what they held before the requests, and divided by N. What a cache retains per entry is all
 * counted: its hash map's table slots and nodes, Caffeine's node, the key and the value (objects
 * shared by every entry, such as the clock and the limit configuration, count once in total). Not
 * part of the suite (the name ends in Bench): run with
 * {@code ./mvnw -q test -Dtest=MemoryPerKeyBench -Dsurefire.failIfNoSpecifiedTests=false}; the figures are in
 * bench/RESULTS.md. In {@code redis} state the limiter and sharing state live in Redis; this process
 * keeps only the reserves of busy keys ({@link #bytesPerBusyKeyInRedisState}).
 */
class MemoryPerKeyBench {

    static final int KEYS = 2_000;

    @Test
    void bytesPerActiveKey() throws Exception {
        System.setProperty("jol.magicFieldOffset", "true"); // JDK-internal classes inside the caches
        try (StubInferenceServer backend = StubInferenceServer.start();
             GatewayInstance g = withKeyCaps(BenchConfig.generousLimits(GatewayInstance.builder(backend.uri())))
                     .property("usage-guard.tiers.L1.rph", 1_000_000_000L)
                     .property("usage-guard.tiers.L1.rpd", 1_000_000_000L)
                     .property("usage-guard.tiers.L1.tpd", 1_000_000_000_000L)
                     .property("usage-guard.tiers.L1.ipm", 1_000_000L)
                     .property("usage-guard.tiers.L1.ipd", 1_000_000L)
                     .start()) {
            GuardPipeline pipeline = g.bean(GuardPipeline.class);
            Object store = field(g.bean(LimitStores.class), "primary");
            Object shared = field(store, "time"); // the clock every bucket refers to: not per key
            Object buckets = cacheData((com.github.benmanes.caffeine.cache.Cache<?, ?>) field(store, "buckets"));
            Object inFlight = field(store, "inFlight");
            Object windows = cacheData((com.github.benmanes.caffeine.cache.Cache<?, ?>) field(g.bean(KeySharingMonitor.class), "windows"));
            String[] keys = new String[KEYS];
            for (int i = 0; i < KEYS; i++) {
                g.account("mem-" + i, "L1", "INDIVIDUAL");
                keys[i] = g.issueKey("mem-" + i).key();
            }
            System.gc();
            long limitsBefore = entries(shared, buckets, inFlight);
            long windowsBefore = entries(shared, windows);
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < KEYS; i++) {
                    admitted(pipeline, keys[i], "198.51." + (100 + round) + "." + (i % 250));
                }
            }
            System.gc();
            double limitBytes = (entries(shared, buckets, inFlight) - limitsBefore) / (double) KEYS;
            double sharingBytes = (entries(shared, windows) - windowsBefore) / (double) KEYS;
            if (Boolean.getBoolean("bench.footprint")) {
                System.out.println(layout(shared, buckets).toFootprint());
                System.out.println(layout(shared, windows).toFootprint());
            }
            System.out.printf("MEMORY per active key (local): limiter %.0f B, sharing %.0f B, total %.0f B"
                            + " (cache entries per key: limiter %.1f, sharing %.1f)%n",
                    limitBytes, sharingBytes, limitBytes + sharingBytes,
                    ((java.util.Map<?, ?>) buckets).size() / (double) KEYS, ((java.util.Map<?, ?>) windows).size() / (double) KEYS);
        }
    }

    /**
     * In {@code redis} state the buckets and counters live in Redis; this process keeps, for a key
     * busy enough to be served from reserves, what it holds ahead ({@code RedisReserves}: per bucket
     * its reserve and demand, per group of concurrency counters its slots), for up to a second after
     * the key goes quiet. The worst case: every key sends requests back to back, so every one of its
     * buckets and its counters has a reserve.
     */
    @Test
    void bytesPerBusyKeyInRedisState() throws Exception {
        System.setProperty("jol.magicFieldOffset", "true");
        int keysN = 500;
        try (StubInferenceServer backend = StubInferenceServer.start();
             GatewayInstance g = withKeyCaps(BenchConfig.generousLimits(GatewayInstance.builder(backend.uri())))
                     .property("usage-guard.state.store", "redis")
                     .property("usage-guard.state.redis.key-prefix", "ugmem-" + System.nanoTime() + ":")
                     // idle time 10 x ahead: nothing goes back before it is measured (the size does not depend on it)
                     .property("usage-guard.state.redis.reserve-ahead", "10s")
                     .start()) {
            GuardPipeline pipeline = g.bean(GuardPipeline.class);
            Object reserves = field(field(g.bean(LimitStores.class), "primary"), "reserves");
            java.util.Map<?, ?> buckets = (java.util.Map<?, ?>) field(reserves, "buckets");
            java.util.Map<?, ?> pools = (java.util.Map<?, ?>) field(reserves, "pools");
            String[] keys = new String[keysN];
            for (int i = 0; i < keysN; i++) {
                g.account("memr-" + i, "L1", "INDIVIDUAL");
                keys[i] = g.issueKey("memr-" + i).key();
            }
            for (int i = 0; i < keysN; i++) {
                for (int n = 0; n < 8; n++) {
                    admitted(pipeline, keys[i], "198.51.100." + (i % 250));
                }
            }
            System.gc();
            // the bucket configurations are shared by every key: not per key
            java.util.Set<Object> specs = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            for (Object b : buckets.values()) {
                specs.add(field(b, "spec"));
            }
            long bucketBytes = GraphLayout.parseInstance(buckets, specs.toArray()).subtract(GraphLayout.parseInstance(specs.toArray())).totalSize();
            long poolBytes = GraphLayout.parseInstance(pools).totalSize();
            java.util.Set<String> accountsSeen = new java.util.HashSet<>();
            for (Object k : buckets.keySet()) {
                String key = (String) k;
                accountsSeen.add(key.substring(key.indexOf('{'), key.indexOf('}') + 1));
            }
            double bucketsPerKey = buckets.size() / (double) accountsSeen.size();
            double perBucket = bucketBytes / (double) buckets.size();
            double perPool = poolBytes / (double) Math.max(1, pools.size());
            System.out.printf("MEMORY per busy key (redis, reserves): %.0f B = %.1f buckets x %.0f B + a pool of slots %.0f B"
                            + " (%d specs shared; %d keys still busy)%n", bucketsPerKey * perBucket + perPool, bucketsPerKey,
                    perBucket, perPool, specs.size(), accountsSeen.size());
        }
    }

    /** Every key capped too (per-key windows and concurrency), no auth-failure limit in the way, quiet logs. */
    private static GatewayInstance.Builder withKeyCaps(GatewayInstance.Builder b) {
        return b.property("usage-guard.tiers.L1.per-key.rpm", 1_000_000_000L)
                .property("usage-guard.tiers.L1.per-key.tpm", 10_000_000_000L)
                .property("usage-guard.tiers.L1.per-key.concurrency", 100_000)
                .property("usage-guard.auth-failures.max", 1_000_000)
                .property("logging.level.root", "WARN");
    }

    /** One chat request through the real pipeline, up to the backend call: it must pass every restriction. */
    private static void admitted(GuardPipeline pipeline, String key, String clientIp) {
        var request = MockServerHttpRequest.post("/v1/chat/completions")
                .header("Authorization", "Bearer " + key).contentType(MediaType.APPLICATION_JSON)
                .remoteAddress(new InetSocketAddress(clientIp, 40000))
                .body(DecisionPathBenchmark.BODY.replace("bench-model", "test-model"));
        var exchange = new DefaultServerWebExchange(request, new MockServerHttpResponse(),
                DecisionPathBenchmark.SESSIONS, DecisionPathBenchmark.CODECS, DecisionPathBenchmark.LOCALES);
        pipeline.filter(exchange, e -> reactor.core.publisher.Mono.empty()).block();
        assertThat(exchange.getResponse().getStatusCode()).isNull();
    }

    /** The maps with everything they hold (not the cache's shared machinery), less the clock every entry refers to. */
    private static long entries(Object shared, Object... maps) {
        return layout(shared, maps).totalSize();
    }

    private static GraphLayout layout(Object shared, Object... maps) {
        Object[] roots = java.util.Arrays.copyOf(maps, maps.length + 1);
        roots[maps.length] = shared;
        return GraphLayout.parseInstance(roots).subtract(GraphLayout.parseInstance(shared));
    }

    /**
     * The hash map under a Caffeine cache: its table, its nodes, Caffeine's nodes (with their
     * access-order and timer-wheel links), keys and values. The cache object itself also reaches
     * its executor, scheduler and frequency sketch, which are not per key.
     */
    static Object cacheData(com.github.benmanes.caffeine.cache.Cache<?, ?> cache) throws Exception {
        Object local = cache.asMap();
        for (Class<?> c = local.getClass(); c != null; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField("data");
                f.setAccessible(true);
                return f.get(local);
            } catch (NoSuchFieldException e) {
                // look further up
            }
        }
        throw new IllegalStateException("no data field in " + local.getClass());
    }

    private static Object field(Object target, String name) throws Exception {
        Field f = null;
        for (Class<?> c = target.getClass(); f == null && c != null; c = c.getSuperclass()) {
            try {
                f = c.getDeclaredField(name);
            } catch (NoSuchFieldException e) {
                // look further up
            }
        }
        if (f == null) {
            throw new NoSuchFieldException(name);
        }
        f.setAccessible(true);
        return f.get(target);
    }
}
