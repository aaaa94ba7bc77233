package io.usageguard.sharing;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import org.junit.jupiter.api.Test;
import org.openjdk.jol.info.GraphLayout;

/**
 * Memory per tracked key in local mode, measured with JOL (the retained object graph, headers and
 * padding included) over 10,000 keys per scenario, with the default settings (12 sub-windows, exact
 * up to 32 values, HLL lgK 10). Not part of the test suite (its name ends in Bench); run with
 * {@code ./mvnw -q test -Dtest=KeyWindowMemoryBench -Dsurefire.failIfNoSpecifiedTests=false} and read
 * {@code target/surefire-reports/io.usageguard.sharing.KeyWindowMemoryBench-output.txt}.
 * The figures are in docs/key-sharing.md.
 */
class KeyWindowMemoryBench {

    static final int KEYS = 10_000;
    static final SharingProperties DEFAULTS = new SharingProperties(true, Duration.ofHours(1), 12, 24, 48, 8, 20,
            SharingProperties.Action.OBSERVE, 0.25, 32, 10, 100_000, Duration.ofSeconds(10));

    @Test
    void bytesPerTrackedKey() {
        System.out.printf("%-58s %14s %14s%n", "scenario (per key, every sub-window of the hour active)",
                "KeyWindow B", "tracked key B");
        double typical = measure("1 network, 1 agent family", 1, 1);
        measure("3 networks, 2 agent families", 3, 2);
        measure("20 networks, 3 agent families (default block-networks)", 20, 3);
        measure("32 networks, 4 agent families (exact cap)", 32, 4);
        double sketched = measure("500 networks, 40 agent families (sketches)", 500, 40);
        assertThat(typical).isLessThan(2_000);
        assertThat(sketched).isLessThan(40_000);
    }

    /**
     * The cache's hash table with its nodes, keys and values: the cache object itself also reaches
     * its executor and, through it, every thread, which is not per-key memory.
     */
    private static Object cacheData(Cache<String, KeyWindow> cache) {
        Object local = cache.asMap();
        for (Class<?> c = local.getClass(); c != null; c = c.getSuperclass()) {
            try {
                java.lang.reflect.Field f = c.getDeclaredField("data");
                f.setAccessible(true);
                return f.get(local);
            } catch (NoSuchFieldException e) {
                // look further up
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }
        throw new IllegalStateException("no data field in " + local.getClass());
    }

    /** Returns bytes per tracked key (window + cache entry + key id). */
    private static double measure(String scenario, int networks, int agents) {
        Cache<String, KeyWindow> cache = Caffeine.newBuilder().maximumSize(DEFAULTS.maxTrackedKeys())
                .expireAfterAccess(65, TimeUnit.MINUTES).build();
        KeyWindow[] windows = new KeyWindow[KEYS];
        DistinctWindow distinct = new DistinctWindow(DEFAULTS.subWindows(), DEFAULTS.exactCap(), DEFAULTS.sketchLgK());
        for (int k = 0; k < KEYS; k++) {
            KeyWindow w = new KeyWindow();
            for (long slot = 1000; slot < 1012; slot++) {
                for (int n = 0; n < networks; n++) {
                    distinct.add(w, KeyWindow.NETWORKS, NetworkKeys.mix(k * 100_003L + n + 1), slot);
                }
                for (int a = 0; a < agents; a++) {
                    distinct.add(w, KeyWindow.AGENTS, NetworkKeys.mix(-(k * 1_009L + a + 1)), slot);
                }
            }
            windows[k] = w;
            cache.put(String.format("key_%016x", k), w); // ids are key_ + 16 characters
        }
        long windowBytes = GraphLayout.parseInstance((Object[]) windows).totalSize() - 16L - 4L * KEYS;
        long cacheBytes = GraphLayout.parseInstance(cacheData(cache)).totalSize();
        double perWindow = (double) windowBytes / KEYS;
        double perKey = (double) cacheBytes / KEYS;
        System.out.printf("%-58s %14.0f %14.0f%n", scenario, perWindow, perKey);
        return perKey;
    }
}
