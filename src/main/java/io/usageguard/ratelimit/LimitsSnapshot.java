package io.usageguard.ratelimit;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;

/**
 * All limit configuration at one moment, immutable: {@code usage-guard.tiers}, the limit part of
 * {@code usage-guard.models} and {@code usage-guard.limits}. Merged limits for a (tier, model glob)
 * pair are computed once and remembered.
 */
public final class LimitsSnapshot {

    private static final Logger log = LoggerFactory.getLogger(LimitsSnapshot.class);
    private static final int MEMO_LIMIT = 10_000;

    private final long version;
    private final LimitsProperties limits;
    private final Map<String, LimitSet> tiers;
    private final Map<String, ModelLimitProperties> models;
    /** tier → glob → limits: two lookups on strings whose hash is cached, nothing built per request. */
    private final Map<String, Map<String, ResolvedLimits>> memo = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger memoSize = new java.util.concurrent.atomic.AtomicInteger();
    private final Set<String> warnedTiers = ConcurrentHashMap.newKeySet();

    LimitsSnapshot(long version, LimitsProperties limits, Map<String, LimitSet> tiers, Map<String, ModelLimitProperties> models) {
        this.version = version;
        this.limits = limits;
        this.tiers = Map.copyOf(tiers);
        this.models = Map.copyOf(models);
        // fail at load (start-up or reload), not per request: every combination must merge
        for (String tier : this.tiers.keySet()) {
            for (String glob : this.models.keySet()) {
                resolve(tier, glob);
            }
            resolve(tier, "");
        }
        for (ModelLimitProperties m : this.models.values()) {
            for (String tier : m.tiers().keySet()) {
                for (String glob : this.models.keySet()) {
                    resolve(tier, glob);
                }
            }
        }
    }

    public static LimitsSnapshot bind(Binder binder, long version) {
        LimitsProperties limits = binder.bind("usage-guard.limits", Bindable.of(LimitsProperties.class))
                .orElseGet(LimitsProperties::defaults);
        Map<String, LimitSet> tiers = binder.bind("usage-guard.tiers", Bindable.mapOf(String.class, LimitSet.class))
                .orElseGet(Map::of);
        Map<String, ModelLimitProperties> models = binder.bind("usage-guard.models",
                Bindable.mapOf(String.class, ModelLimitProperties.class)).orElseGet(Map::of);
        return new LimitsSnapshot(version, limits, tiers, models);
    }

    public long version() {
        return version;
    }

    public LimitsProperties limits() {
        return limits;
    }

    public Map<String, LimitSet> tiers() {
        return tiers;
    }

    /**
     * The limits for an account of {@code tier} on the model configured under {@code glob}. A tier
     * configured neither under {@code usage-guard.tiers} nor under the model counts as
     * {@code usage-guard.limits.default-tier}.
     */
    public ResolvedLimits resolve(String tier, String glob) {
        Map<String, ResolvedLimits> byGlob = tier == null || glob == null ? null : memo.get(tier);
        ResolvedLimits r = byGlob == null ? null : byGlob.get(glob);
        if (r != null) {
            return r;
        }
        ModelLimitProperties model = models.get(glob);
        String effective = tier;
        if (!tiers.containsKey(tier) && (model == null || !model.tiers().containsKey(tier))) {
            effective = limits.defaultTier();
            if (tier != null && !tier.equals(effective) && warnedTiers.size() < 100 && warnedTiers.add(tier)) {
                log.warn("accounts of tier {} have no configured limits; the limits of default tier {} apply", tier, effective);
            }
        }
        LimitSet base = tiers.get(effective);
        LimitSet modelTier = model == null ? null : model.tiers().get(effective);
        LimitMode mode = limits.mode();
        if (base != null && base.mode() != null) {
            mode = base.mode();
        }
        if (model != null && model.limitsMode() != null) {
            mode = model.limitsMode();
        }
        if (modelTier != null && modelTier.mode() != null) {
            mode = modelTier.mode();
        }
        r = ResolvedLimits.merge(effective, mode, version, base, modelTier, model == null ? null : model.global());
        if (tier != null && glob != null && memoSize.get() < MEMO_LIMIT
                && memo.computeIfAbsent(tier, t -> new ConcurrentHashMap<>()).putIfAbsent(glob, r) == null) {
            memoSize.incrementAndGet();
        }
        return r;
    }
}
