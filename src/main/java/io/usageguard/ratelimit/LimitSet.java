package io.usageguard.ratelimit;

/**
 * One set of limits as configured under {@code usage-guard.tiers.<TIER>} or
 * {@code usage-guard.models.<glob>.tiers.<TIER>}. A null field is "not limited here" (or, under a
 * model, "as the tier says").
 *
 * @param mode {@code enforce} or {@code shadow} for this tier (or this tier on this model); null inherits
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
        PerKey perKey,
        LimitMode mode) {

    /** The optional per-key cap, tighter than the account's. */
    public record PerKey(Long rpm, Long tpm, Integer concurrency) {
    }
}
