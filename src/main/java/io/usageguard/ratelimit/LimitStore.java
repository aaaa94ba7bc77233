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
     * What one bucket said.
     *
     * @param consumed      the tokens were taken
     * @param available     tokens left in each window (after taking them, when taken)
     * @param nanosToWait   when refused: until enough tokens are back (Long.MAX_VALUE: never, the amount exceeds a window)
     */
    record BucketResult(boolean consumed, long[] available, long nanosToWait) {
    }
}
