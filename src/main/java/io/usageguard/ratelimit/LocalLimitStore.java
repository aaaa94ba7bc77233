package io.usageguard.ratelimit;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import io.github.bucket4j.TokensInheritanceStrategy;
import io.github.bucket4j.VerboseResult;
import io.github.bucket4j.local.LocalBucket;

/**
 * Buckets in this process: bucket4j's lock-free local buckets in a bounded Caffeine cache. A bucket
 * untouched for its longest window is full again, so it is dropped then (an idle daily bucket after
 * a day, an idle per-minute one after a minute); when the cache is full the least recently used go
 * first. Concurrency counters are plain counters, removed at zero.
 */
public final class LocalLimitStore implements LimitStore {

    private static final Duration GRACE = Duration.ofMinutes(1);

    private final TimeMeter time;
    private final Cache<String, Holder> buckets;
    private final ConcurrentHashMap<String, Integer> inFlight = new ConcurrentHashMap<>();

    public LocalLimitStore(TimeMeter time, long maxBuckets) {
        this.time = time;
        this.buckets = Caffeine.newBuilder()
                .maximumSize(maxBuckets)
                .expireAfter(new Expiry<String, Holder>() {
                    @Override
                    public long expireAfterCreate(String key, Holder h, long currentTime) {
                        return h.idleNanos;
                    }

                    @Override
                    public long expireAfterUpdate(String key, Holder h, long currentTime, long currentDuration) {
                        return h.idleNanos;
                    }

                    @Override
                    public long expireAfterRead(String key, Holder h, long currentTime, long currentDuration) {
                        return h.idleNanos;
                    }
                })
                .build();
    }

    @Override
    public String name() {
        return "local";
    }

    @Override
    public CompletableFuture<BucketResult> consume(String key, BucketSpec spec, long version, long amount) {
        VerboseResult<ConsumptionProbe> r = bucket(key, spec, version).asVerbose().tryConsumeAndReturnRemaining(amount);
        ConsumptionProbe probe = r.getValue();
        return CompletableFuture.completedFuture(new BucketResult(probe.isConsumed(),
                r.getDiagnostics().getAvailableTokensPerEachBandwidth(), probe.getNanosToWaitForRefill()));
    }

    @Override
    public void refund(String key, BucketSpec spec, long version, long amount) {
        bucket(key, spec, version).addTokens(amount);
    }

    @Override
    public void charge(String key, BucketSpec spec, long version, long amount) {
        bucket(key, spec, version).tryConsumeAsMuchAsPossible(amount);
    }

    @Override
    public CompletableFuture<Integer> acquire(String[] keys, int[] limits, String leaseId) {
        for (int i = 0; i < keys.length; i++) {
            int limit = limits[i];
            boolean[] taken = new boolean[1];
            inFlight.compute(keys[i], (k, v) -> {
                int c = v == null ? 0 : v;
                if (c >= limit) {
                    return v;
                }
                taken[0] = true;
                return c + 1;
            });
            if (!taken[0]) {
                for (int j = 0; j < i; j++) {
                    decrement(keys[j]);
                }
                return CompletableFuture.completedFuture(i);
            }
        }
        return CompletableFuture.completedFuture(-1);
    }

    @Override
    public void release(String[] keys, String leaseId) {
        for (String key : keys) {
            decrement(key);
        }
    }

    private void decrement(String key) {
        inFlight.computeIfPresent(key, (k, v) -> v <= 1 ? null : v - 1);
    }

    /** Tokens left in each window of the bucket at {@code key}, or null when there is none (tests and diagnostics). */
    long[] available(String key) {
        Holder h = buckets.getIfPresent(key);
        return h == null ? null : h.bucket.asVerbose().getAvailableTokens().getDiagnostics().getAvailableTokensPerEachBandwidth();
    }

    /** Keys of every bucket held (tests and diagnostics). */
    java.util.Set<String> keys() {
        return java.util.Set.copyOf(buckets.asMap().keySet());
    }

    /** Requests in flight counted under this key (tests and diagnostics). */
    int inFlight(String key) {
        return inFlight.getOrDefault(key, 0);
    }

    private LocalBucket bucket(String key, BucketSpec spec, long version) {
        Holder h = buckets.get(key, k -> new Holder(spec, version, time));
        if (h.version < version) {
            synchronized (h) {
                if (h.version < version) {
                    h.bucket.replaceConfiguration(spec.configuration(), TokensInheritanceStrategy.ADDITIVE);
                    h.version = version;
                    h.idleNanos = idle(spec);
                }
            }
        }
        return h.bucket;
    }

    private static long idle(BucketSpec spec) {
        return spec.longest().plus(GRACE).toNanos();
    }

    private static final class Holder {
        final LocalBucket bucket;
        volatile long version;
        volatile long idleNanos;

        Holder(BucketSpec spec, long version, TimeMeter time) {
            var builder = Bucket.builder().withCustomTimePrecision(time);
            for (var b : spec.configuration().getBandwidths()) {
                builder.addLimit(b);
            }
            this.bucket = builder.build();
            this.version = version;
            this.idleNanos = idle(spec);
        }
    }
}
