package io.usageguard.ratelimit;

import java.util.concurrent.CompletableFuture;

/**
 * Where bucket and concurrency state lives: this process ({@link LocalLimitStore}) or Redis
 * ({@link RedisLimitStore}). Operations never block the caller; results arrive as futures.
 */
public interface LimitStore {

    /** {@code local} or {@code redis}, for logs and metrics. */
    String name();

    /**
     * Tries to take {@code amount} from the bucket at {@code key}; the bucket is created full, or
     * re-configured with its tokens kept when its configuration version is older than {@code version}.
     */
    CompletableFuture<BucketResult> consume(String key, BucketSpec spec, long version, long amount);

    /** Gives back tokens (never above capacity). Fire and forget. */
    void refund(String key, BucketSpec spec, long version, long amount);

    /** Takes up to {@code amount} more tokens, as many as there are (never below zero). Fire and forget. */
    void charge(String key, BucketSpec spec, long version, long amount);

    /**
     * Takes one slot in each of the given concurrency counters, all or none.
     *
     * @return -1 when every slot was taken, else the index of the first counter that is full
     */
    CompletableFuture<Integer> acquire(String[] keys, int[] limits, String leaseId);

    /** Frees the slots taken by {@link #acquire}. Fire and forget. */
    void release(String[] keys, String leaseId);

    /**
     * Asks for everything one request takes ({@link Admission#run}): every use whose result is
     * still null, every lease group not refused yet. Sets each use's result (and {@code undone}
     * when it had enough but nothing was taken from it) and each group's {@code refused} and
     * {@code held}; the future completes when every answer is in, or fails if the store failed.
     * <p>
     * This default asks {@link #consume} per bucket and {@link #acquire} per group, all at once;
     * each takes by itself, and {@link Admission#undo} gives back what a refused request got. A
     * store that can check everything before taking anything (all or none) overrides it.
     */
    default CompletableFuture<Void> admit(Admission a) {
        long version = a.limits.version();
        CompletableFuture<?>[] futures = new CompletableFuture<?>[a.uses.length + a.groups.length];
        int n = 0;
        for (Admission.Use use : a.uses) {
            if (use.result == null) {
                futures[n++] = consume(use.key(), use.spec, version, use.amount).thenAccept(r -> use.result = r);
            }
        }
        for (Admission.LeaseGroup g : a.groups) {
            if (g.refused < 0) {
                futures[n++] = acquire(g.keys(), g.limits, a.leaseId()).thenAccept(refused -> {
                    g.refused = refused;
                    g.held = refused < 0;
                });
            }
        }
        if (n == 0) {
            return CompletableFuture.completedFuture(null);
        }
        return CompletableFuture.allOf(n < futures.length ? java.util.Arrays.copyOf(futures, n) : futures);
    }

    /**
     * The end of a request, or the undoing of its admission: frees the slots of every group that is
     * {@code held}, and for each use with a non-zero delta gives back {@code delta} tokens (delta &gt; 0,
     * never above capacity) or takes up to {@code -delta} more (delta &lt; 0, never below zero).
     * Fire and forget; the caller clears {@code held} afterwards.
     *
     * @param deltas one per {@link Admission#uses} entry
     */
    default void settle(Admission a, long[] deltas) {
        for (Admission.LeaseGroup g : a.groups) {
            if (g.held) {
                release(g.keys(), a.leaseId());
            }
        }
        long version = a.limits.version();
        for (int i = 0; i < a.uses.length; i++) {
            Admission.Use use = a.uses[i];
            if (deltas[i] > 0) {
                refund(use.key(), use.spec, version, deltas[i]);
            } else if (deltas[i] < 0) {
                charge(use.key(), use.spec, version, -deltas[i]);
            }
        }
    }

    /**
     * What one bucket said.
     *
     * @param consumed      the tokens were taken
     * @param available     tokens left in each window (after taking them, when taken)
     * @param nanosToWait   when refused: until enough tokens are back (Long.MAX_VALUE: never, the amount exceeds a window)
     */
    record BucketResult(boolean consumed, long[] available, long nanosToWait) {
    }
}
