package io.usageguard.ratelimit;

/**
 * One set of limits as configured under {@code usage-guard.tiers.<TIER>} or
 * {@code usage-guard.models.<glob>.tiers.<TIER>}. A null field is "not limited here".
 */
public record LimitSet(
        Long rpm,
        Long rph,
        Long rpd,
        Long tpm,
        Long tpd,
        Long ipm,
        Long ipd,
        Integer concurrency,
        PerKey perKey) {

    /** The optional per-key cap, tighter than the account's. */
    public record PerKey(Long rpm, Long tpm, Integer concurrency) {
    }
}
