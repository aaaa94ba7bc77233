package io.usageguard.ratelimit;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import io.usageguard.core.Durations;
import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.usage.TokenUsage;

/**
 * One request's dealings with the limits: what it takes from which bucket and counter, what the
 * store answered, whether it is refused (and by which limit), and, once the response is over, the
 * release of its concurrency slots and the reconciliation of its token reservation.
 */
final class Admission {

    /** One bucket this request takes from. */
    static final class Use {
        final BucketSpec spec;
        /** The scope the bucket counts for (null when the bucket was named by a string). */
        final LimitKey scope;
        private String key;
        final long amount;
        LimitStore.BucketResult result;
        boolean undone;
        /** Redis store: this replica's reserve of the bucket (null: none), and whether the amount came from it. */
        RedisReserves.Bucket reserve;
        boolean reserved;

        Use(BucketSpec spec, LimitKey scope, long amount) {
            this.spec = spec;
            this.scope = scope;
            this.amount = amount;
        }

        Use(BucketSpec spec, String key, long amount) {
            this.spec = spec;
            this.scope = null;
            this.key = key;
            this.amount = amount;
        }

        /** The bucket's name (built on first use: the local store never needs it). */
        String key() {
            String k = key;
            if (k == null) {
                key = k = scope.bucket(spec.unit());
            }
            return k;
        }

        boolean consumed() {
            return result != null && result.consumed() && !undone;
        }
    }

    /** Concurrency counters taken together (one Redis hash slot). */
    static final class LeaseGroup {
        /** The scopes whose counters these are (null when they were named by strings). */
        final LimitKey[] ids;
        private String[] keys;
        final int[] limits;
        final Scope[] scopes;
        boolean held;
        int refused = -1;
        /** Redis store: this replica's reserved slots of these counters (null: none), and the one lent to this request. */
        RedisReserves.Pool pool;
        String pooled;

        LeaseGroup(LimitKey[] ids, int[] limits) {
            this.ids = ids;
            this.limits = limits;
            this.scopes = new Scope[ids.length];
            for (int i = 0; i < ids.length; i++) {
                scopes[i] = ids[i].scope();
            }
        }

        LeaseGroup(String[] keys, int[] limits, Scope[] scopes) {
            this.ids = null;
            this.keys = keys;
            this.limits = limits;
            this.scopes = scopes;
        }

        /** The counters' names, built on first use; the same array every time (the Redis store keys its leases by it). */
        String[] keys() {
            String[] k = keys;
            if (k == null) {
                k = new String[ids.length];
                for (int i = 0; i < ids.length; i++) {
                    k[i] = ids[i].concurrency();
                }
                keys = k;
            }
            return k;
        }
    }

    final ResolvedLimits limits;
    final double keyFactor;
    final String model;
    final long tokens;
    final long images;
    final Use[] uses;
    final LeaseGroup[] groups;
    private final String replica;
    private final long leaseNumber;
    private String leaseId;
    LimitStore store;
    /** The store answered and the request was decided on its answer (later errors are not store failures). */
    boolean decided;

    Admission(ResolvedLimits limits, double keyFactor, String model, long tokens, long images, Use[] uses,
              LeaseGroup[] groups, String replica, long leaseNumber) {
        this.limits = limits;
        this.keyFactor = keyFactor;
        this.model = model;
        this.tokens = tokens;
        this.images = images;
        this.uses = uses;
        this.groups = groups;
        this.replica = replica;
        this.leaseNumber = leaseNumber;
    }

    Admission(ResolvedLimits limits, double keyFactor, String model, long tokens, long images, Use[] uses,
              LeaseGroup[] groups, String leaseId) {
        this(limits, keyFactor, model, tokens, images, uses, groups, null, 0);
        this.leaseId = leaseId;
    }

    /** This request's lease in the concurrency counters: {@code <replica>:<number>}, built on first use (Redis only). */
    String leaseId() {
        String id = leaseId;
        if (id == null) {
            leaseId = id = replica + ":" + leaseNumber;
        }
        return id;
    }

    /**
     * Asks the store for everything at once; completes when every answer is in (or fails if the
     * store failed). A zero limit, or an amount above what a whole window holds, refuses without
     * asking the store; the store is still asked about the rest (for the headers).
     */
    CompletableFuture<Void> run(LimitStore store) {
        this.store = store;
        for (Use use : uses) {
            use.result = null;
            use.undone = false;
            use.reserve = null;
            use.reserved = false;
            if (use.spec.configuration() == null || use.amount > use.spec.minCapacity()) {
                use.result = new LimitStore.BucketResult(false, new long[use.spec.windows().length], Long.MAX_VALUE);
            }
        }
        for (LeaseGroup g : groups) {
            g.held = false;
            g.refused = -1;
            g.pool = null;
            g.pooled = null;
            for (int i = 0; i < g.limits.length; i++) {
                if (g.limits[i] <= 0) {
                    g.refused = i;
                    break;
                }
            }
        }
        return store.admit(this);
    }

    /** Some limit refused (before the store is asked: a zero limit or an amount above a window). */
    boolean refused() {
        for (Use use : uses) {
            if (use.result != null && !use.result.consumed()) {
                return true;
            }
        }
        for (LeaseGroup g : groups) {
            if (g.refused >= 0) {
                return true;
            }
        }
        return false;
    }

    /** Gives back whatever was taken (a refused request consumes nothing; a failed store call leaves nothing held). */
    void undo() {
        if (store == null) {
            return;
        }
        long[] deltas = new long[uses.length];
        boolean any = false;
        for (int i = 0; i < uses.length; i++) {
            if (uses[i].consumed()) {
                deltas[i] = uses[i].amount;
                any = true;
            }
        }
        for (LeaseGroup g : groups) {
            any |= g.held;
        }
        if (!any) {
            return;
        }
        store.settle(this, deltas);
        for (int i = 0; i < uses.length; i++) {
            if (deltas[i] != 0) {
                uses[i].undone = true;
            }
        }
        for (LeaseGroup g : groups) {
            g.held = false;
        }
    }

    /**
     * When the response is over: free the concurrency slots; reconcile the token reservation with
     * the tokens really used (refund or charge the difference; nothing used when the request failed
     * before the backend answered); give back images the backend did not make. One call to the
     * store ({@link LimitStore#settle}).
     */
    void finish(TokenUsage usage, boolean succeeded) {
        if (store == null) {
            return;
        }
        long actual = usage == null ? 0 : usage.total();
        long delta = actual - tokens;
        long[] deltas = new long[uses.length];
        for (int i = 0; i < uses.length; i++) {
            Use use = uses[i];
            if (!use.consumed()) {
                continue;
            }
            if (use.spec.unit() == Window.Unit.TOKENS && delta != 0) {
                long d = use.spec.scope() == Scope.KEY ? scaled(Math.abs(delta), keyFactor) : Math.abs(delta);
                deltas[i] = delta < 0 ? Math.min(d, use.amount) : -d;
            } else if (use.spec.unit() == Window.Unit.IMAGES && !succeeded) {
                deltas[i] = use.amount;
            }
        }
        store.settle(this, deltas);
        for (LeaseGroup g : groups) {
            g.held = false;
        }
    }

    /** What a key-scope bucket is charged for {@code amount}: the key's limits are the configured ones times its factor. */
    static long scaled(long amount, double factor) {
        if (factor >= 1.0) {
            return amount;
        }
        if (factor <= 0) {
            return Long.MAX_VALUE;
        }
        double v = Math.ceil(amount / factor);
        return v >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) v;
    }

    /**
     * The limit that refuses: of the refusing buckets the one whose wait is longest (that is when a
     * retry can succeed); a full concurrency counter only when no bucket refuses.
     */
    GuardRejection rejection() {
        Use worst = null;
        for (Use use : uses) {
            if (use.result != null && !use.result.consumed()
                    && (worst == null || Long.compareUnsigned(use.result.nanosToWait(), worst.result.nanosToWait()) > 0)) {
                worst = use;
            }
        }
        if (worst != null) {
            return bucketRejection(worst);
        }
        for (LeaseGroup g : groups) {
            if (g.refused >= 0) {
                Scope scope = g.scopes[g.refused];
                int limit = g.limits[g.refused];
                String whose = switch (scope) {
                    case ACCOUNT -> "for this account";
                    case KEY -> "for this API key";
                    case GLOBAL -> "for all callers together";
                };
                return new GuardRejection(ErrorCode.CONCURRENCY_LIMIT_EXCEEDED,
                        "Concurrency limit reached for model `" + model + "`: at most " + limit
                                + " request" + (limit == 1 ? "" : "s") + " in flight " + whose
                                + ". Wait for a request to finish and retry.", Duration.ofSeconds(1));
            }
        }
        return null;
    }

    private GuardRejection bucketRejection(Use use) {
        BucketSpec spec = use.spec;
        long[] available = use.result.available();
        Window window = spec.windows()[0];
        long limit = spec.limits()[0];
        long worstWait = -1;
        for (int i = 0; i < spec.windows().length; i++) {
            long cap = spec.limits()[i];
            long avail = i < available.length ? available[i] : 0;
            if (avail >= use.amount && cap > 0 && use.amount <= cap) {
                continue;
            }
            long wait = cap == 0 || use.amount > cap ? Long.MAX_VALUE
                    : (long) Math.ceil((double) (use.amount - avail) * spec.windows()[i].length().toNanos() / cap);
            if (wait > worstWait) {
                worstWait = wait;
                window = spec.windows()[i];
                limit = cap;
            }
        }
        long shownLimit = spec.scope() == Scope.KEY && keyFactor < 1.0 ? (long) Math.floor(limit * Math.max(0, keyFactor)) : limit;
        String what = switch (spec.scope()) {
            case ACCOUNT -> window.describe() + " limit of " + shownLimit + " for this account";
            case KEY -> "per-key " + window.describe() + " limit of " + shownLimit + " for this API key";
            case GLOBAL -> "global " + window.describe() + " limit of " + shownLimit + " for all callers together";
        };
        ErrorCode code = window.daily() ? ErrorCode.QUOTA_EXCEEDED : ErrorCode.RATE_LIMIT_EXCEEDED;
        long nanos = use.result.nanosToWait();
        if (nanos == Long.MAX_VALUE || limit == 0 || use.amount > limit) {
            String unit = spec.unit() == Window.Unit.TOKENS ? "tokens" : spec.unit() == Window.Unit.IMAGES ? "images" : "requests";
            String message = limit == 0
                    ? "Model `" + model + "` is not available under the " + what + "."
                    : "Request too large for model `" + model + "`: it needs " + use.amount + " " + unit
                    + ", more than the " + what + ". Reduce max_tokens, n or the prompt.";
            return new GuardRejection(code, message, window.length());
        }
        Duration retry = Duration.ofNanos(nanos);
        String message = (code == ErrorCode.QUOTA_EXCEEDED ? "Quota exceeded" : "Rate limit reached")
                + " for model `" + model + "`: " + what + " reached. Retry in " + Durations.openAi(retry) + ".";
        return new GuardRejection(code, message, retry);
    }
}
