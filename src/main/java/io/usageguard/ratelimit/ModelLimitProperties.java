package io.usageguard.ratelimit;

import java.util.Map;

/**
 * The limit-related part of {@code usage-guard.models.<glob>} (the rest is routing's): per-tier
 * overrides, the model's global ceiling and its mode.
 *
 * @param tiers      per-tier limits for this model; each field overrides {@code usage-guard.tiers.<TIER>}'s
 * @param global     ceilings over all callers together, protecting the backend
 * @param limitsMode {@code enforce} or {@code shadow} for every limit on this model; null inherits
 */
public record ModelLimitProperties(Map<String, LimitSet> tiers, Global global, LimitMode limitsMode) {

    public ModelLimitProperties {
        tiers = tiers == null ? Map.of() : Map.copyOf(tiers);
    }

    /** {@code usage-guard.models.<glob>.global.{rpm,tpm,concurrency}}. */
    public record Global(Long rpm, Long tpm, Integer concurrency) {
    }
}
