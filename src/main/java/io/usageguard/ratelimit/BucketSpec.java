package io.usageguard.ratelimit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.BucketConfiguration;

/**
 * One token bucket: the windows of one unit (requests, tokens or images) in one scope. Each window
 * is a bandwidth of capacity {@code limit} refilled greedily by {@code limit} per window length, with
 * the window's id, so that a reload can replace the configuration and keep every window's count.
 */
public final class BucketSpec {

    private final Scope scope;
    private final Window.Unit unit;
    private final Window[] windows;
    private final long[] limits;
    private final BucketConfiguration configuration;
    private final Duration longest;
    private final long minCapacity;

    private BucketSpec(Scope scope, Window.Unit unit, Window[] windows, long[] limits) {
        this.scope = scope;
        this.unit = unit;
        this.windows = windows;
        this.limits = limits;
        List<Bandwidth> bandwidths = new ArrayList<>(windows.length);
        Duration longestWindow = Duration.ZERO;
        long min = Long.MAX_VALUE;
        for (int i = 0; i < windows.length; i++) {
            if (limits[i] > 0) {
                bandwidths.add(Bandwidth.builder().capacity(limits[i]).refillGreedy(limits[i], windows[i].length())
                        .id(windows[i].id()).build());
            }
            if (windows[i].length().compareTo(longestWindow) > 0) {
                longestWindow = windows[i].length();
            }
            min = Math.min(min, limits[i]);
        }
        this.configuration = min == 0 ? null : new BucketConfiguration(bandwidths);
        this.longest = longestWindow;
        this.minCapacity = min;
    }

    /** A bucket for the given windows (all of one unit), skipping unset ones; null when none is set. Zero limits are kept as zero. */
    static BucketSpec of(Scope scope, Window.Unit unit, Window[] windows, Long[] values) {
        List<Window> w = new ArrayList<>();
        List<Long> l = new ArrayList<>();
        for (int i = 0; i < windows.length; i++) {
            if (values[i] != null) {
                if (values[i] < 0) {
                    throw new IllegalArgumentException(windows[i].id() + " must not be negative");
                }
                w.add(windows[i]);
                l.add(values[i]);
            }
        }
        if (w.isEmpty()) {
            return null;
        }
        return new BucketSpec(scope, unit, w.toArray(Window[]::new), l.stream().mapToLong(Long::longValue).toArray());
    }

    /** The same windows with every limit divided by {@code n} (rounded up), for one replica's share. */
    BucketSpec divided(int n) {
        long[] d = new long[limits.length];
        for (int i = 0; i < limits.length; i++) {
            d[i] = limits[i] == 0 ? 0 : (limits[i] + n - 1) / n;
        }
        return new BucketSpec(scope, unit, windows, d);
    }

    public Scope scope() {
        return scope;
    }

    public Window.Unit unit() {
        return unit;
    }

    public Window[] windows() {
        return windows;
    }

    public long[] limits() {
        return limits;
    }

    /** Null when a limit is zero (bucket4j has no empty bucket): such a window refuses everything without a store. */
    public BucketConfiguration configuration() {
        return configuration;
    }

    /** After this long untouched, the bucket is full again: it can be forgotten. */
    public Duration longest() {
        return longest;
    }

    public long minCapacity() {
        return minCapacity;
    }

    /** Index of the window with this id, or -1. */
    int indexOf(Window window) {
        for (int i = 0; i < windows.length; i++) {
            if (windows[i] == window) {
                return i;
            }
        }
        return -1;
    }
}
