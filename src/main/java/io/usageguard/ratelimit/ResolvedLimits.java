package io.usageguard.ratelimit;

import java.util.ArrayList;
import java.util.List;

/**
 * Every limit that applies to one tier on one model, merged once per configuration snapshot: the
 * tier's limits, field by field overridden by the model's entry for that tier, the optional per-key
 * cap and the model's global ceiling, and the mode that applies.
 */
public final class ResolvedLimits {

    private static final Window[] REQUEST_WINDOWS = {Window.RPM, Window.RPH, Window.RPD};
    private static final Window[] TOKEN_WINDOWS = {Window.TPM, Window.TPD};
    private static final Window[] IMAGE_WINDOWS = {Window.IPM, Window.IPD};

    private final String tier;
    private final LimitMode mode;
    private final long version;
    /** Account, key and global buckets that always apply. */
    private final BucketSpec[] specs;
    /** Key buckets derived from the account's RPM/TPM, used only when a key is throttled and has no per-key cap. */
    private final BucketSpec keyRequestsDerived;
    private final BucketSpec keyTokensDerived;
    private final int accountConcurrency;
    private final int keyConcurrency;
    private final int globalConcurrency;
    private volatile ResolvedLimits divided;

    private ResolvedLimits(String tier, LimitMode mode, long version, BucketSpec[] specs, BucketSpec keyRequestsDerived,
                           BucketSpec keyTokensDerived, int accountConcurrency, int keyConcurrency, int globalConcurrency) {
        this.tier = tier;
        this.mode = mode;
        this.version = version;
        this.specs = specs;
        this.keyRequestsDerived = keyRequestsDerived;
        this.keyTokensDerived = keyTokensDerived;
        this.accountConcurrency = accountConcurrency;
        this.keyConcurrency = keyConcurrency;
        this.globalConcurrency = globalConcurrency;
    }

    /**
     * @param base    {@code usage-guard.tiers.<TIER>}, or null
     * @param model   {@code usage-guard.models.<glob>.tiers.<TIER>}, or null
     * @param global  {@code usage-guard.models.<glob>.global}, or null
     */
    static ResolvedLimits merge(String tier, LimitMode mode, long version, LimitSet base, LimitSet model,
                                ModelLimitProperties.Global global) {
        LimitSet.PerKey baseKey = base == null ? null : base.perKey();
        LimitSet.PerKey modelKey = model == null ? null : model.perKey();
        Long rpm = pick(model, base, LimitSet::rpm);
        Long tpm = pick(model, base, LimitSet::tpm);
        List<BucketSpec> specs = new ArrayList<>();
        add(specs, BucketSpec.of(Scope.ACCOUNT, Window.Unit.REQUESTS, REQUEST_WINDOWS,
                new Long[]{rpm, pick(model, base, LimitSet::rph), pick(model, base, LimitSet::rpd)}));
        add(specs, BucketSpec.of(Scope.ACCOUNT, Window.Unit.TOKENS, TOKEN_WINDOWS,
                new Long[]{tpm, pick(model, base, LimitSet::tpd)}));
        add(specs, BucketSpec.of(Scope.ACCOUNT, Window.Unit.IMAGES, IMAGE_WINDOWS,
                new Long[]{pick(model, base, LimitSet::ipm), pick(model, base, LimitSet::ipd)}));
        Long keyRpm = pickKey(modelKey, baseKey, LimitSet.PerKey::rpm);
        Long keyTpm = pickKey(modelKey, baseKey, LimitSet.PerKey::tpm);
        add(specs, BucketSpec.of(Scope.KEY, Window.Unit.REQUESTS, new Window[]{Window.RPM}, new Long[]{keyRpm}));
        add(specs, BucketSpec.of(Scope.KEY, Window.Unit.TOKENS, new Window[]{Window.TPM}, new Long[]{keyTpm}));
        if (global != null) {
            add(specs, BucketSpec.of(Scope.GLOBAL, Window.Unit.REQUESTS, new Window[]{Window.RPM}, new Long[]{global.rpm()}));
            add(specs, BucketSpec.of(Scope.GLOBAL, Window.Unit.TOKENS, new Window[]{Window.TPM}, new Long[]{global.tpm()}));
        }
        Integer concurrency = pick(model, base, LimitSet::concurrency);
        Integer keyConcurrency = pickKey(modelKey, baseKey, LimitSet.PerKey::concurrency);
        return new ResolvedLimits(tier, mode, version, specs.toArray(BucketSpec[]::new),
                keyRpm == null ? BucketSpec.of(Scope.KEY, Window.Unit.REQUESTS, new Window[]{Window.RPM}, new Long[]{rpm}) : null,
                keyTpm == null ? BucketSpec.of(Scope.KEY, Window.Unit.TOKENS, new Window[]{Window.TPM}, new Long[]{tpm}) : null,
                concurrency == null ? -1 : concurrency,
                keyConcurrency == null ? -1 : keyConcurrency,
                global == null || global.concurrency() == null ? -1 : global.concurrency());
    }

    private static void add(List<BucketSpec> specs, BucketSpec spec) {
        if (spec != null) {
            specs.add(spec);
        }
    }

    private static <T> T pick(LimitSet model, LimitSet base, java.util.function.Function<LimitSet, T> field) {
        T v = model == null ? null : field.apply(model);
        return v != null ? v : base == null ? null : field.apply(base);
    }

    private static <T> T pickKey(LimitSet.PerKey model, LimitSet.PerKey base, java.util.function.Function<LimitSet.PerKey, T> field) {
        T v = model == null ? null : field.apply(model);
        return v != null ? v : base == null ? null : field.apply(base);
    }

    /** One replica's share when the shared store is down and each replica enforces limit ÷ replicas. */
    public ResolvedLimits divided(int replicas) {
        if (replicas <= 1) {
            return this;
        }
        ResolvedLimits d = divided;
        if (d == null) {
            BucketSpec[] s = new BucketSpec[specs.length];
            for (int i = 0; i < specs.length; i++) {
                s[i] = specs[i].divided(replicas);
            }
            d = new ResolvedLimits(tier, mode, version, s,
                    keyRequestsDerived == null ? null : keyRequestsDerived.divided(replicas),
                    keyTokensDerived == null ? null : keyTokensDerived.divided(replicas),
                    share(accountConcurrency, replicas), share(keyConcurrency, replicas), share(globalConcurrency, replicas));
            divided = d;
        }
        return d;
    }

    private static int share(int limit, int n) {
        return limit <= 0 ? limit : (limit + n - 1) / n;
    }

    public boolean isEmpty() {
        return specs.length == 0 && accountConcurrency < 0 && keyConcurrency < 0 && globalConcurrency < 0
                && keyRequestsDerived == null && keyTokensDerived == null;
    }

    public String tier() {
        return tier;
    }

    public LimitMode mode() {
        return mode;
    }

    /** The configuration generation these limits belong to (monotonic, comparable across replicas). */
    public long version() {
        return version;
    }

    public BucketSpec[] specs() {
        return specs;
    }

    public BucketSpec keyRequestsDerived() {
        return keyRequestsDerived;
    }

    public BucketSpec keyTokensDerived() {
        return keyTokensDerived;
    }

    /** -1 when unlimited. */
    public int accountConcurrency() {
        return accountConcurrency;
    }

    public int keyConcurrency() {
        return keyConcurrency;
    }

    public int globalConcurrency() {
        return globalConcurrency;
    }
}
