package io.usageguard.ratelimit;

import java.util.Arrays;

/**
 * The token buckets of {@link LocalLimitStore} as primitive longs: bucket4j's arithmetic for the
 * buckets this gateway builds — every window with a positive limit is a bandwidth of capacity
 * {@code limit}, created full, refilled greedily by {@code limit} per window length, identified by
 * its window — without bucket4j's objects. A bucket is a slice of a {@code long[]}:
 * {@code [version, then for each window with a positive limit: tokens, last refill (nanos),
 * rounding error]}. The arithmetic is bucket4j 8.14's {@code BucketState64BitsInteger} for greedy
 * bandwidths (refill with its rounding error and its overflow fallbacks, the wait for a refill,
 * {@code addTokens}, {@code TokensInheritanceStrategy.ADDITIVE} by bandwidth id), and the operations
 * are its {@code LockFreeBucket}'s (a refused consumption does not keep the refill), so that results
 * are the same to the nanosecond; {@code GreedyBucketTest} checks that against bucket4j. Not
 * thread-safe: the caller holds a lock.
 */
final class GreedyBucket {

    /** Longs per window: tokens, last refill nanos, rounding error. */
    private static final int W = 3;
    private static final long[] PERIOD = new long[Window.values().length];

    static {
        for (Window w : Window.values()) {
            PERIOD[w.ordinal()] = w.length().toNanos();
        }
    }

    private GreedyBucket() {
    }

    /** Longs a bucket of this spec takes. */
    static int size(BucketSpec spec) {
        return 1 + W * windows(spec);
    }

    /** Windows with a positive limit (the bandwidths bucket4j would have). */
    static int windows(BucketSpec spec) {
        int n = 0;
        for (long l : spec.limits()) {
            if (l > 0) {
                n++;
            }
        }
        return n;
    }

    /** The configuration version the bucket at {@code off} was built or last re-configured for. */
    static long version(long[] s, int off) {
        return s[off];
    }

    /** A full bucket. */
    static void create(long[] s, int off, BucketSpec spec, long version, long now) {
        s[off] = version;
        int b = off + 1;
        for (long cap : spec.limits()) {
            if (cap > 0) {
                s[b] = cap;
                s[b + 1] = now;
                s[b + 2] = 0;
                b += W;
            }
        }
    }

    /**
     * Takes {@code amount} if every window has it (bucket4j's verbose {@code tryConsumeAndReturnRemaining}):
     * the tokens left per window and, when refused, the nanos until enough are back.
     */
    static LimitStore.BucketResult tryConsume(long[] s, int off, BucketSpec spec, long amount, long now) {
        positive(amount);
        int n = windows(spec);
        long[] next = Arrays.copyOfRange(s, off, off + 1 + W * n);
        refill(next, 0, spec, now);
        long[] available = new long[n];
        long min = Long.MAX_VALUE;
        for (int j = 0; j < n; j++) {
            available[j] = next[1 + W * j];
            min = Math.min(min, available[j]);
        }
        if (amount > min) {
            return new LimitStore.BucketResult(false, available, delay(next, spec, amount));
        }
        for (int j = 0; j < n; j++) {
            available[j] -= amount;
            next[1 + W * j] = available[j];
        }
        System.arraycopy(next, 0, s, off, next.length);
        return new LimitStore.BucketResult(true, available, 0);
    }

    /** Takes up to {@code amount}, as many as every window has (bucket4j's {@code tryConsumeAsMuchAsPossible}). */
    static long consumeAsMuchAsPossible(long[] s, int off, BucketSpec spec, long amount, long now) {
        positive(amount);
        int n = windows(spec);
        long[] next = Arrays.copyOfRange(s, off, off + 1 + W * n);
        refill(next, 0, spec, now);
        long min = Long.MAX_VALUE;
        for (int j = 0; j < n; j++) {
            min = Math.min(min, next[1 + W * j]);
        }
        long take = Math.min(amount, min);
        if (take <= 0) {
            return 0;
        }
        for (int j = 0; j < n; j++) {
            next[1 + W * j] -= take;
        }
        System.arraycopy(next, 0, s, off, next.length);
        return take;
    }

    /** Gives back tokens, never above a window's capacity (bucket4j's {@code addTokens}). */
    static void addTokens(long[] s, int off, BucketSpec spec, long amount, long now) {
        positive(amount);
        refill(s, off, spec, now);
        int b = off + 1;
        for (long cap : spec.limits()) {
            if (cap <= 0) {
                continue;
            }
            long size = s[b];
            long added = size + amount;
            if (added >= cap || added < size) {
                s[b] = cap;
                s[b + 2] = 0;
            } else {
                s[b] = added;
            }
            b += W;
        }
    }

    /** Tokens in each window now (bucket4j's verbose {@code getAvailableTokens}: the refill is not kept). */
    static long[] available(long[] s, int off, BucketSpec spec, long now) {
        int n = windows(spec);
        long[] next = Arrays.copyOfRange(s, off, off + 1 + W * n);
        refill(next, 0, spec, now);
        long[] available = new long[n];
        for (int j = 0; j < n; j++) {
            available[j] = next[1 + W * j];
        }
        return available;
    }

    /**
     * Writes into {@code to} at {@code toOff} the bucket of {@code newSpec} that {@code from}'s
     * bucket of {@code oldSpec} becomes (bucket4j's {@code replaceConfiguration(.., ADDITIVE)}: refilled
     * at {@code now} first; each window keeps its count by window id — a raised limit adds the
     * difference, a lowered one caps what is left; a new window starts full). {@code from}'s slice
     * is refilled in place.
     */
    static void reconfigure(long[] from, int fromOff, BucketSpec oldSpec, long[] to, int toOff, BucketSpec newSpec,
                            long version, long now) {
        refill(from, fromOff, oldSpec, now);
        to[toOff] = version;
        Window[] windows = newSpec.windows();
        long[] limits = newSpec.limits();
        int b = toOff + 1;
        for (int i = 0; i < windows.length; i++) {
            long cap = limits[i];
            if (cap <= 0) {
                continue;
            }
            int old = find(oldSpec, windows[i]);
            if (old < 0) {
                to[b] = cap;
                to[b + 1] = now;
                to[b + 2] = 0;
            } else {
                long oldCap = oldSpec.limits()[indexOf(oldSpec, windows[i])];
                int ob = fromOff + 1 + W * old;
                long period = PERIOD[windows[i].ordinal()];
                long size = from[ob];
                to[b + 1] = from[ob + 1];
                to[b + 2] = 0;
                if (cap <= oldCap) {
                    // bucket4j's AS_IS, which ADDITIVE applies when the capacity does not grow
                    if (size >= cap) {
                        to[b] = cap;
                    } else {
                        to[b] = size;
                        to[b + 2] = scaledError(from[ob + 2], period, period);
                    }
                } else if (size >= oldCap) {
                    to[b] = cap;
                } else {
                    long grown = size + (cap - oldCap);
                    to[b] = grown;
                    if (grown < cap) {
                        to[b + 2] = scaledError(from[ob + 2], period, period);
                    }
                }
            }
            b += W;
        }
    }

    /** bucket4j's carried rounding error: {@code (long) scale * error} (the cast binds first), below the new period. */
    private static long scaledError(long error, long newPeriod, long oldPeriod) {
        double scale = (double) newPeriod / (double) oldPeriod;
        long e = (long) scale * error;
        return e >= newPeriod ? newPeriod - 1 : e;
    }

    /** Index among the windows with a positive limit of {@code spec}, or -1. */
    private static int find(BucketSpec spec, Window window) {
        Window[] windows = spec.windows();
        long[] limits = spec.limits();
        int j = 0;
        for (int i = 0; i < windows.length; i++) {
            if (limits[i] > 0) {
                if (windows[i] == window) {
                    return j;
                }
                j++;
            }
        }
        return -1;
    }

    private static int indexOf(BucketSpec spec, Window window) {
        Window[] windows = spec.windows();
        for (int i = 0; i < windows.length; i++) {
            if (windows[i] == window) {
                return i;
            }
        }
        return -1;
    }

    /** bucket4j's greedy refill of every window up to {@code now}. */
    static void refill(long[] s, int off, BucketSpec spec, long now) {
        Window[] windows = spec.windows();
        long[] limits = spec.limits();
        int b = off + 1;
        for (int i = 0; i < windows.length; i++) {
            long cap = limits[i];
            if (cap > 0) {
                refill(s, b, cap, PERIOD[windows[i].ordinal()], now);
                b += W;
            }
        }
    }

    private static void refill(long[] s, int b, long cap, long period, long now) {
        long previous = s[b + 1];
        if (now <= previous) {
            return;
        }
        s[b + 1] = now;
        long size = s[b];
        if (size >= cap) {
            return;
        }
        long elapsed = now - previous;
        long grown = size;
        if (elapsed > period) {
            grown += (elapsed / period) * cap;
            if (grown > cap || grown < size) {
                s[b] = cap;
                s[b + 2] = 0;
                return;
            }
            elapsed %= period;
        }
        long error = s[b + 2];
        long product = multiplyOrMax(cap, elapsed);
        long divided = product + error;
        if (divided < 0 || product == Long.MAX_VALUE) {
            // overflow: bucket4j goes to floating point and forgets the rounding error
            grown += (long) ((double) elapsed / (double) period * (double) cap);
            error = 0;
        } else {
            long refilled = divided / period;
            if (refilled == 0) {
                error = divided;
            } else {
                grown += refilled;
                error = divided % period;
            }
        }
        if (grown >= cap || grown < size) {
            s[b] = cap;
            s[b + 2] = 0;
            return;
        }
        s[b] = grown;
        s[b + 2] = error;
    }

    /** bucket4j's wait until {@code amount} tokens are in every window (Long.MAX_VALUE: more than a window holds). */
    private static long delay(long[] s, BucketSpec spec, long amount) {
        Window[] windows = spec.windows();
        long[] limits = spec.limits();
        long wait = 0;
        int b = 1;
        boolean first = true;
        for (int i = 0; i < windows.length; i++) {
            long cap = limits[i];
            if (cap <= 0) {
                continue;
            }
            long d = delay(s, b, cap, PERIOD[windows[i].ordinal()], amount);
            wait = first ? d : Math.max(wait, d);
            first = false;
            b += W;
        }
        return wait;
    }

    private static long delay(long[] s, int b, long cap, long period, long amount) {
        if (amount > cap) {
            return Long.MAX_VALUE;
        }
        long size = s[b];
        if (amount <= size) {
            return 0;
        }
        long deficit = amount - size;
        if (deficit <= 0) {
            return Long.MAX_VALUE;
        }
        long product = multiplyOrMax(period, deficit);
        if (product == Long.MAX_VALUE) {
            return (long) ((double) deficit / (double) cap * (double) period);
        }
        return (product - s[b + 2]) / cap;
    }

    /** {@code x * y}, or Long.MAX_VALUE when it overflows (as bucket4j computes it). */
    private static long multiplyOrMax(long x, long y) {
        long r = x * y;
        long ax = Math.abs(x);
        long ay = Math.abs(y);
        if (((ax | ay) >>> 31 != 0) && ((y != 0 && r / y != x) || (x == Long.MIN_VALUE && y == -1))) {
            return Long.MAX_VALUE;
        }
        return r;
    }

    private static void positive(long amount) {
        if (amount <= 0) {
            throw new IllegalArgumentException(amount + " is wrong value for tokens, because tokens should be positive");
        }
    }
}
