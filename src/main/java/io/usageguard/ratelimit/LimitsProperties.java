package io.usageguard.ratelimit;

import java.time.Duration;

import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.limits.*}. Bound with a {@link org.springframework.boot.context.properties.bind.Binder}
 * into every {@link LimitsSnapshot}, so {@code mode} and {@code default-tier} change on reload too.
 *
 * @param mode             {@code enforce} (default) or {@code shadow}: the default for every tier and model
 * @param defaultTier      the tier whose limits apply to an account whose tier is not configured
 * @param localMaxBuckets  most bucket entries kept in memory by the local store (and the Redis fallback): one entry per
 *                         scope (an account on a model, a key on a model, a model's global ceiling) with up to three
 *                         buckets; least recently used go first
 * @param leaseTtl         with Redis: how long a concurrency slot outlives a replica that stopped renewing it
 */
public record LimitsProperties(
        @DefaultValue("enforce") LimitMode mode,
        @DefaultValue("default") String defaultTier,
        @DefaultValue("1000000") long localMaxBuckets,
        @DefaultValue("30s") Duration leaseTtl) {

    public static LimitsProperties defaults() {
        return new LimitsProperties(LimitMode.ENFORCE, "default", 1_000_000, Duration.ofSeconds(30));
    }
}
