package io.usageguard.ratelimit;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.github.bucket4j.TimeMeter;

/**
 * Buckets in this process, in a bounded Caffeine cache: one entry per scope (an account on a model
 * entry, a key on a model entry, a model's global ceiling) holding that scope's request, token and
 * image buckets as primitive longs in one array ({@link GreedyBucket}: bucket4j's arithmetic
 * without its per-bucket objects), guarded by the entry's lock. The rate limiter names an entry by
 * its {@link LimitKey} (compared by parts: no name is built on the request path); a bucket named by a
 * string {@code <scope>:req|tok|img} is split into the entry's key {@code <scope>} and the unit. An entry
 * untouched for the longest window of its buckets is full again, so it is dropped then (plus a
 * minute); when the cache is full the least recently used go first. Concurrency counters are
 * plain counters, removed at zero.
 */
public final class LocalLimitStore implements LimitStore {

    private static final long GRACE_NANOS = Duration.ofMinutes(1).toNanos();
    private static final Window.Unit[] UNITS = Window.Unit.values();

    private final TimeMeter time;
    private final Cache<Object, Buckets> buckets;
    private final ConcurrentHashMap<Object, Integer> inFlight = new ConcurrentHashMap<>();

    public LocalLimitStore(TimeMeter time, long maxBuckets) {
        this.time = time;
        this.buckets = Caffeine.newBuilder()
                .maximumSize(maxBuckets)
                .executor(Runnable::run) // upkeep on the caller: no thread hand-off on the request path
                .expireAfter(new Expiry<Object, Buckets>() {
                    @Override
                    public long expireAfterCreate(Object key, Buckets b, long currentTime) {
                        return b.idleNanos();
                    }

                    // never shortened by a read: a read racing with a bucket's creation cannot cut the idle time
                    // that bucket's own thread sets right after (a bucket kept longer is only full longer)
                    @Override
                    public long expireAfterUpdate(Object key, Buckets b, long currentTime, long currentDuration) {
                        return Math.max(b.idleNanos(), currentDuration);
                    }

                    @Override
                    public long expireAfterRead(Object key, Buckets b, long currentTime, long currentDuration) {
                        return Math.max(b.idleNanos(), currentDuration);
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
        return CompletableFuture.completedFuture(consumeIn(group(key, spec.unit()), spec, version, amount,
                time.currentTimeNanos()));
    }

    private BucketResult consumeIn(Object group, BucketSpec spec, long version, long amount, long now) {
        return inBucket(group, spec, version, amount, now, GreedyBucket::tryConsume);
    }

    @Override
    public void refund(String key, BucketSpec spec, long version, long amount) {
        adjust(group(key, spec.unit()), spec, version, amount, time.currentTimeNanos(), GreedyBucket::addTokens);
    }

    @Override
    public void charge(String key, BucketSpec spec, long version, long amount) {
        adjust(group(key, spec.unit()), spec, version, amount, time.currentTimeNanos(),
                GreedyBucket::consumeAsMuchAsPossible);
    }

    /**
     * Everything one request takes, here and now: no futures, and its buckets found by their
     * {@link LimitKey} (no names built). Each bucket and counter takes by itself, as the interface's
     * default does; {@link Admission#undo} gives back what a refused request got.
     */
    @Override
    public CompletableFuture<Void> admit(Admission a) {
        long version = a.limits.version();
        long now = time.currentTimeNanos(); // one reading for all of a request's buckets
        for (Admission.Use use : a.uses) {
            if (use.result == null) {
                use.result = consumeIn(group(use), use.spec, version, use.amount, now);
            }
        }
        for (Admission.LeaseGroup g : a.groups) {
            if (g.refused < 0) {
                int refused = acquireIn(counters(g), g.limits);
                g.refused = refused;
                g.held = refused < 0;
            }
        }
        return ADMITTED;
    }

    private static final CompletableFuture<Void> ADMITTED = CompletableFuture.completedFuture(null);

    @Override
    public void settle(Admission a, long[] deltas) {
        for (Admission.LeaseGroup g : a.groups) {
            if (g.held) {
                for (Object key : counters(g)) {
                    decrement(key);
                }
            }
        }
        long version = a.limits.version();
        long now = Long.MIN_VALUE;
        for (int i = 0; i < a.uses.length; i++) {
            Admission.Use use = a.uses[i];
            if (deltas[i] != 0 && now == Long.MIN_VALUE) {
                now = time.currentTimeNanos(); // one reading for all of a request's buckets
            }
            if (deltas[i] > 0) {
                adjust(group(use), use.spec, version, deltas[i], now, GreedyBucket::addTokens);
            } else if (deltas[i] < 0) {
                adjust(group(use), use.spec, version, -deltas[i], now, GreedyBucket::consumeAsMuchAsPossible);
            }
        }
    }

    /** A lease group's counters as this store keys them: by scope, or by name when they were named. */
    private static Object[] counters(Admission.LeaseGroup g) {
        return g.ids != null ? g.ids : g.keys();
    }

    private static Object group(Admission.Use use) {
        return use.scope != null ? use.scope : group(use.key(), use.spec.unit());
    }

    /** One operation on one bucket's windows, under the entry's lock. */
    @FunctionalInterface
    private interface BucketOp<R> {
        R apply(long[] state, int offset, BucketSpec spec, long amount, long now);
    }

    /** A refund or charge: the bucket's windows change by {@code amount}. */
    @FunctionalInterface
    private interface Adjustment {
        void apply(long[] state, int offset, BucketSpec spec, long amount, long now);
    }

    private void adjust(Object group, BucketSpec spec, long version, long amount, long now, Adjustment adjustment) {
        inBucket(group, spec, version, amount, now, (state, off, s, n, at) -> {
            adjustment.apply(state, off, s, n, at);
            return null;
        });
    }

    /**
     * Runs {@code op} on the bucket of {@code spec}'s unit in {@code group}'s entry (created, or
     * re-configured for a newer version, first); when that changed the entry's buckets, a read sets
     * its idle time from them as they are now.
     */
    private <R> R inBucket(Object group, BucketSpec spec, long version, long amount, long now, BucketOp<R> op) {
        positive(amount);
        Buckets b = buckets(group, spec, version, now);
        R result;
        boolean changed;
        synchronized (b) {
            BucketSpec before = b.spec(spec.unit());
            int off = b.prepare(spec, version, now);
            result = op.apply(b.state, off, b.spec(spec.unit()), amount, now);
            changed = b.spec(spec.unit()) != before;
        }
        if (changed) {
            buckets.getIfPresent(group);
        }
        return result;
    }

    @Override
    public CompletableFuture<Integer> acquire(String[] keys, int[] limits, String leaseId) {
        return CompletableFuture.completedFuture(acquireIn(keys, limits));
    }

    /** One slot in each counter, all or none: -1, or the index of the first full one. */
    private int acquireIn(Object[] keys, int[] limits) {
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
                return i;
            }
        }
        return -1;
    }

    @Override
    public void release(String[] keys, String leaseId) {
        for (String key : keys) {
            decrement(key);
        }
    }

    private void decrement(Object key) {
        inFlight.computeIfPresent(key, (k, v) -> v <= 1 ? null : v - 1);
    }

    /** Tokens left in each window of the bucket at {@code key}, or null when there is none (tests and diagnostics). */
    long[] available(String key) {
        for (Window.Unit unit : UNITS) {
            Buckets b = buckets.getIfPresent(group(key, unit));
            if (b == null) { // kept under its LimitKey: find it by name
                for (var e : buckets.asMap().entrySet()) {
                    if (e.getKey() instanceof LimitKey k && k.bucket(unit).equals(key)) {
                        b = e.getValue();
                    }
                }
            }
            if (b != null) {
                synchronized (b) {
                    BucketSpec spec = b.spec(unit);
                    if (spec != null) {
                        return GreedyBucket.available(b.state, b.offset(unit.ordinal()), spec, time.currentTimeNanos());
                    }
                }
            }
        }
        return null;
    }

    /** Keys of every bucket held (tests and diagnostics). */
    Set<String> keys() {
        Set<String> keys = new HashSet<>();
        buckets.asMap().forEach((group, b) -> {
            synchronized (b) {
                for (Window.Unit unit : UNITS) {
                    if (b.spec(unit) != null) {
                        keys.add(group instanceof Raw raw ? raw.key() : group + ":" + unit.suffix);
                    }
                }
            }
        });
        return Set.copyOf(keys);
    }

    /** Requests in flight counted under this key (tests and diagnostics). */
    int inFlight(String key) {
        Integer n = inFlight.get(key);
        if (n == null) { // counted under its LimitKey: find it by name
            for (var e : inFlight.entrySet()) {
                if (e.getKey() instanceof LimitKey k && k.concurrency().equals(key)) {
                    n = e.getValue();
                }
            }
        }
        return n == null ? 0 : n;
    }

    private Buckets buckets(Object group, BucketSpec spec, long version, long now) {
        return buckets.get(group, g -> new Buckets(spec, version, now));
    }

    /**
     * The entry key of a bucket key: the scope part of {@code <scope>:<unit suffix>} (the rate
     * limiter's keys), else the whole key with its unit.
     */
    static Object group(String key, Window.Unit unit) {
        String suffix = unit.suffix;
        int colon = key.length() - suffix.length() - 1;
        if (colon >= 0 && key.charAt(colon) == ':' && key.endsWith(suffix)) {
            return key.substring(0, colon);
        }
        return new Raw(key, unit);
    }

    /** A bucket key not of the form {@code <scope>:<unit suffix>}: a group of its own. */
    record Raw(String key, Window.Unit unit) {
    }

    private static void positive(long amount) {
        if (amount <= 0) {
            throw new IllegalArgumentException(amount + " is wrong value for tokens, because tokens should be positive");
        }
    }

    /**
     * The buckets of one scope: per unit (requests, tokens, images) the spec its windows were built
     * for (null until the unit is first used), and the buckets' state, one slice per unit in unit
     * order. Guarded by its own monitor.
     */
    static final class Buckets {

        // volatile: the cache's expiry reads them without the lock
        private volatile BucketSpec requests;
        private volatile BucketSpec tokens;
        private volatile BucketSpec images;
        long[] state;

        Buckets(BucketSpec spec, long version, long now) {
            set(spec.unit().ordinal(), spec);
            state = new long[GreedyBucket.size(spec)];
            GreedyBucket.create(state, 0, spec, version, now);
        }

        BucketSpec spec(Window.Unit unit) {
            return spec(unit.ordinal());
        }

        private BucketSpec spec(int unit) {
            return switch (unit) {
                case 0 -> requests;
                case 1 -> tokens;
                default -> images;
            };
        }

        private void set(int unit, BucketSpec spec) {
            switch (unit) {
                case 0 -> requests = spec;
                case 1 -> tokens = spec;
                default -> images = spec;
            }
        }

        /** Where the unit's bucket starts in {@link #state}. */
        int offset(int unit) {
            int off = 0;
            for (int u = 0; u < unit; u++) {
                BucketSpec s = spec(u);
                if (s != null) {
                    off += GreedyBucket.size(s);
                }
            }
            return off;
        }

        /**
         * The offset of the bucket of {@code spec}'s unit, created full when it is the unit's first
         * use, re-configured (tokens kept, bucket4j's ADDITIVE) when it was built for an older version.
         */
        int prepare(BucketSpec spec, long version, long now) {
            int unit = spec.unit().ordinal();
            BucketSpec current = spec(unit);
            int off = offset(unit);
            if (current == null) {
                int size = GreedyBucket.size(spec);
                long[] next = new long[state.length + size];
                System.arraycopy(state, 0, next, 0, off);
                System.arraycopy(state, off, next, off + size, state.length - off);
                GreedyBucket.create(next, off, spec, version, now);
                state = next;
                set(unit, spec);
            } else if (GreedyBucket.version(state, off) < version) {
                int oldSize = GreedyBucket.size(current);
                int size = GreedyBucket.size(spec);
                long[] next = new long[state.length - oldSize + size];
                System.arraycopy(state, 0, next, 0, off);
                System.arraycopy(state, off + oldSize, next, off + size, state.length - off - oldSize);
                GreedyBucket.reconfigure(state, off, current, next, off, spec, version, now);
                state = next;
                set(unit, spec);
            }
            return off;
        }

        /** After this long untouched, every bucket here is full again: the entry can be forgotten. */
        long idleNanos() {
            long longest = 0;
            for (int u = 0; u < 3; u++) {
                BucketSpec s = spec(u);
                if (s != null) {
                    longest = Math.max(longest, s.longest().toNanos());
                }
            }
            return longest + GRACE_NANOS;
        }
    }
}
