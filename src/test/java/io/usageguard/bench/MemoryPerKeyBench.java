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
 * bench/RESULTS.md. In {@code redis} state the limiter and sharing state live in Redis and this
 * process keeps only connection state, so the per-key figure there is Redis memory (see RESULTS.md).
 */
class MemoryPerKeyBench {

    static final int KEYS = 2_000;

    @Test
    void bytesPerActiveKey() throws Exception {
        System.setProperty("jol.magicFieldOffset", "true"); // JDK-internal classes inside the caches
        try (StubInferenceServer backend = StubInferenceServer.start();
             GatewayInstance g = BenchConfig.generousLimits(GatewayInstance.builder(backend.uri()))
                     .property("usage-guard.tiers.L1.rph", 1_000_000_000L)
                     .property("usage-guard.tiers.L1.rpd", 1_000_000_000L)
                     .property("usage-guard.tiers.L1.tpd", 1_000_000_000_000L)
                     .property("usage-guard.tiers.L1.ipm", 1_000_000L)
                     .property("usage-guard.tiers.L1.ipd", 1_000_000L)
                     .property("usage-guard.tiers.L1.per-key.rpm", 1_000_000_000L)
                     .property("usage-guard.tiers.L1.per-key.tpm", 10_000_000_000L)
                     .property("usage-guard.tiers.L1.per-key.concurrency", 100_000)
                     .property("usage-guard.auth-failures.max", 1_000_000)
                     .property("logging.level.root", "WARN").start()) {
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
                    var request = MockServerHttpRequest.post("/v1/chat/completions")
                            .header("Authorization", "Bearer " + keys[i]).contentType(MediaType.APPLICATION_JSON)
                            .remoteAddress(new InetSocketAddress("198.51." + (100 + round) + "." + (i % 250), 40000))
                            .body(DecisionPathBenchmark.BODY.replace("bench-model", "test-model"));
                    var exchange = new DefaultServerWebExchange(request, new MockServerHttpResponse(),
                            DecisionPathBenchmark.SESSIONS, DecisionPathBenchmark.CODECS, DecisionPathBenchmark.LOCALES);
                    pipeline.filter(exchange, e -> reactor.core.publisher.Mono.empty()).block();
                    assertThat(exchange.getResponse().getStatusCode()).isNull();
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
        Field f = target.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(target);
    }
}
