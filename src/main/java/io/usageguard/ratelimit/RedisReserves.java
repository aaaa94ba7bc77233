package io.usageguard.ratelimit;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.github.bucket4j.TimeMeter;

/**
 * What this replica has taken from Redis ahead of need, so that a busy account's requests are
 * admitted without a Redis call each ({@link RedisLimitStore}): tokens of a bucket, and slots of a
 * group of concurrency counters.
 * <p>
 * Everything here was taken from Redis first, by the same script and with the same all-or-none
 * checks as a request, so no limit is ever exceeded: a request served from a reserve uses
 * what the bucket or counter already counts. What it changes is who may use it: while this replica
 * holds a reserve, other replicas cannot, so a limit can refuse up to the reserves held elsewhere
 * before it is truly used up. That is bounded: a replica holds at most {@code share} of a
 * window's limit (or of a counter's), takes ahead only what the last {@code ahead} of its own
 * traffic on that bucket used, and gives back what it has not used within {@code idle}. Limits too
 * small for a share of one request (by default, below 100 of the unit) are never taken ahead, nor
 * is anything for an account whose requests come further apart than {@code ahead}: those requests
 * go to Redis each, as before.
 * <p>
 * Only all-or-none admission uses reserves; shadow mode and check-only calls go to Redis.
 */
final class RedisReserves {

    /** How the reserves reach Redis: the store's own operations, in its batched script calls. */
    interface Calls {
        /** {@link LimitStore#consume}: takes {@code amount} ahead, all or nothing. */
        CompletableFuture<LimitStore.BucketResult> consume(String key, BucketSpec spec, long version, long amount);

        /** {@link LimitStore#refund}: gives tokens back. Fire and forget. */
        void refund(String key, BucketSpec spec, long version, long amount);

        /** Takes one slot in every counter of a group, all or none, under the lease id {@code slot}; true when taken. */
        CompletableFuture<Boolean> takeSlot(String[] keys, int[] limits, String slot);

        /** Frees a slot taken by {@link #takeSlot}. Fire and forget. */
        void freeSlot(String[] keys, String slot);
    }

    private final double share;
    private final long aheadNanos;
    private final long idleNanos;
    private final TimeMeter time;
    private final Calls calls;
    private final String replica;
    private final AtomicLong slotNumbers = new AtomicLong();
    final Map<String, Bucket> buckets = new ConcurrentHashMap<>();
    final Map<GroupKey, Pool> pools = new ConcurrentHashMap<>();

    /**
     * @param share   the most of a window's (or counter's) limit one replica holds ahead; 0 turns reserves off
     * @param ahead   how much of its recent traffic a replica takes ahead
     * @param replica this replica's id, for the names of its reserved slots
     */
    RedisReserves(double share, Duration ahead, TimeMeter time, Calls calls, String replica) {
        this.share = share;
        this.aheadNanos = Math.max(1, ahead.toNanos());
        this.idleNanos = Math.max(Duration.ofSeconds(1).toNanos(), 10 * aheadNanos);
        this.time = time;
        this.calls = calls;
        this.replica = replica;
    }

    boolean enabled() {
        return share > 0;
    }

    /** How often {@link #upkeep} should run: a quarter of the idle time (what is unused goes back within 1.25 × idle). */
    Duration upkeepPeriod() {
        return Duration.ofNanos(Math.max(Duration.ofMillis(50).toNanos(), idleNanos / 4));
    }

    // ----- admission -----

    /**
     * Serves what it can of an all-or-none admission from this replica's reserves: sets the result
     * of each use it covers and holds a reserved slot for each group it covers. What it cannot
     * cover is left for Redis (result null, group without a slot); when Redis then refuses, the
     * request's undo gives these back through {@link #settle}.
     */
    void take(Admission a) {
        long now = time.currentTimeNanos();
        long version = a.limits.version();
        for (Admission.Use u : a.uses) {
            if (u.result != null) {
                continue;
            }
            long cap = (long) Math.floor(share * u.spec.minCapacity());
            if (cap < u.amount) {
                continue;
            }
            String key = u.key();
            Bucket b = buckets.get(key);
            if (b != null && b.version < version) {
                // a reload: the old reserve goes back under its own configuration
                if (buckets.remove(key, b)) {
                    giveBack(b);
                }
                b = null;
            }
            if (b == null) {
                b = buckets.computeIfAbsent(key, k -> new Bucket(k, u.spec, version, cap, now));
            }
            if (b.spec != u.spec || b.version != version) {
                continue; // a request still on the configuration before a reload: Redis decides
            }
            u.reserve = b;
            long[] available = b.take(u.amount, now);
            if (available != null) {
                u.result = new LimitStore.BucketResult(true, available, 0);
                u.reserved = true;
            }
        }
        for (Admission.LeaseGroup g : a.groups) {
            if (g.refused >= 0) {
                continue;
            }
            int cap = cap(g.limits);
            if (cap < 1) {
                continue;
            }
            GroupKey key = new GroupKey(g.keys());
            Pool p = pools.computeIfAbsent(key, k -> new Pool(k, g.limits.clone(), now));
            if (!Arrays.equals(p.limits, g.limits)) {
                // the limits changed (a reload, or the key's throttle): a new pool; the old one's free slots are freed
                if (pools.remove(key, p)) {
                    free(p, p.drain());
                }
                Pool fresh = new Pool(key, g.limits.clone(), now);
                p = pools.computeIfAbsent(key, k -> fresh);
                if (!Arrays.equals(p.limits, g.limits)) {
                    continue;
                }
            }
            g.pool = p;
            String slot = p.take(now);
            if (slot != null) {
                g.pooled = slot;
                g.held = true;
            }
        }
    }

    private int cap(int[] limits) {
        int cap = Integer.MAX_VALUE;
        for (int limit : limits) {
            cap = Math.min(cap, (int) Math.floor(share * limit));
        }
        return cap;
    }

    /**
     * After a request was served or sent on: tops up the reserves whose recent traffic calls for
     * more than they hold. The top-ups go in the same batch as the request's own call (after it), or
     * by themselves; the request never waits for them.
     */
    void topUp(Admission a) {
        long now = time.currentTimeNanos();
        for (Admission.Use u : a.uses) {
            Bucket b = u.reserve;
            if (b != null) {
                long extra = b.wanted(now, u.amount, aheadNanos);
                if (extra > 0) {
                    fetch(b, extra);
                }
            }
        }
        for (Admission.LeaseGroup g : a.groups) {
            Pool p = g.pool;
            if (p != null) {
                int more = p.wanted(now, cap(p.limits), g.pooled == null, aheadNanos);
                for (int i = 0; i < more; i++) {
                    fetch(p);
                }
            }
        }
    }

    private void fetch(Bucket b, long extra) {
        calls.consume(b.key, b.spec, b.version, extra).whenComplete((r, e) -> {
            boolean taken = e == null && r.consumed();
            if (!b.fetched(taken ? extra : 0, taken ? r.available() : null) && taken) {
                calls.refund(b.key, b.spec, b.version, extra); // it was closed meanwhile
            }
        });
    }

    private void fetch(Pool p) {
        String slot = replica + ":r" + slotNumbers.incrementAndGet();
        calls.takeSlot(p.key.keys, p.limits, slot).whenComplete((taken, e) -> {
            if (!p.fetched(e == null && taken ? slot : null)) {
                calls.freeSlot(p.key.keys, slot);
            }
        });
    }

    // ----- the end of a request -----

    /**
     * Takes the part of a settlement that concerns reserves: tokens of uses served from a reserve go
     * back to it (or, for a charge, come out of it as far as it holds them), and reserved slots go
     * back to their pool. Zeroes the deltas it handled; what is left goes to Redis.
     *
     * @return the deltas for Redis (the same array when nothing was handled here)
     */
    long[] settle(Admission a, long[] deltas) {
        long[] rest = deltas;
        for (int i = 0; i < a.uses.length; i++) {
            Admission.Use u = a.uses[i];
            if (u.reserved && deltas[i] != 0) {
                long left = u.reserve.settle(deltas[i]);
                if (left != deltas[i]) {
                    if (rest == deltas) {
                        rest = deltas.clone();
                    }
                    rest[i] = left;
                }
            }
        }
        for (Admission.LeaseGroup g : a.groups) {
            if (g.held && g.pooled != null && !g.pool.release(g.pooled, time.currentTimeNanos())) {
                free(g.pool, List.of(g.pooled)); // its pool is gone: the slot goes back to Redis
            }
        }
        return rest;
    }

    // ----- upkeep -----

    /**
     * Gives back what has not been used: a bucket's reserve unused for {@code idle}, the slots of a
     * pool that stayed free throughout the last {@code idle}. Forgets buckets and pools that hold
     * nothing.
     */
    void upkeep() {
        long now = time.currentTimeNanos();
        for (Bucket b : buckets.values()) {
            if (b.idle(now, idleNanos)) {
                buckets.remove(b.key, b);
                giveBack(b);
            }
        }
        for (Pool p : pools.values()) {
            List<String> unused = p.unused(now, idleNanos);
            if (!unused.isEmpty()) {
                free(p, unused);
            }
            if (p.empty(now, idleNanos)) {
                pools.remove(p.key, p);
            }
        }
    }

    /** Gives back everything (shutdown). */
    void close() {
        for (Bucket b : buckets.values()) {
            buckets.remove(b.key, b);
            giveBack(b);
        }
        for (Pool p : pools.values()) {
            pools.remove(p.key, p);
            free(p, p.drain());
        }
    }

    /** Every slot id this replica holds in reserve, per group of counters (for lease renewal). */
    void slots(java.util.function.BiConsumer<String[], String> each) {
        for (Pool p : pools.values()) {
            for (String slot : p.ids()) {
                each.accept(p.key.keys, slot);
            }
        }
    }

    private void giveBack(Bucket b) {
        long tokens = b.close();
        if (tokens > 0) {
            calls.refund(b.key, b.spec, b.version, tokens);
        }
    }

    private void free(Pool p, List<String> slots) {
        for (String slot : slots) {
            calls.freeSlot(p.key.keys, slot);
        }
    }

    // ----- state -----

    /**
     * One bucket's reserve on this replica: tokens taken from Redis and not yet handed out, what
     * Redis said was left after the last top-up (for the rate-limit headers), and this replica's
     * recent demand on the bucket.
     */
    static final class Bucket {
        final String key;
        final BucketSpec spec;
        final long version;
        private final long cap;
        private long tokens;
        private long[] available;
        private boolean fetching;
        private boolean closed;
        private long lastUse;
        /** Demand since {@code since}: what this replica's requests took from the bucket, here or in Redis. */
        private long demand;
        private long since;
        /** Demand per nanosecond over the window before {@code since}. */
        private double lastRate;

        Bucket(String key, BucketSpec spec, long version, long cap, long now) {
            this.key = key;
            this.spec = spec;
            this.version = version;
            this.cap = cap;
            this.since = now;
            this.lastUse = now;
        }

        /** Takes {@code amount} from the reserve; the windows' tokens left as far as this replica knows, or null when it holds too few. */
        synchronized long[] take(long amount, long now) {
            demand += amount;
            lastUse = now;
            if (closed || tokens < amount) {
                return null;
            }
            tokens -= amount;
            long[] a = new long[spec.windows().length];
            for (int i = 0; i < a.length; i++) {
                long seen = available != null && i < available.length ? available[i] : spec.limits()[i];
                a[i] = Math.min(spec.limits()[i], seen + tokens);
            }
            return a;
        }

        /**
         * How much to take ahead now: enough to hold what {@code ahead} of this replica's recent
         * demand would use, at most {@code cap}; 0 while a top-up is on the way, while the reserve
         * holds more than half of that, or when that demand is under two requests' {@code amount}.
         */
        synchronized long wanted(long now, long amount, long aheadNanos) {
            long elapsed = now - since;
            double rate = Math.max(lastRate, (double) demand / Math.max(elapsed, aheadNanos / 10));
            if (elapsed >= aheadNanos) {
                lastRate = (double) demand / elapsed;
                demand = 0;
                since = now;
            }
            if (closed || fetching) {
                return 0;
            }
            long target = (long) Math.min(cap, Math.ceil(rate * aheadNanos));
            if (target < 2 * amount || tokens > target / 2 || target - tokens < amount) {
                return 0;
            }
            fetching = true;
            return target - tokens;
        }

        /** A top-up's answer; false when the reserve was closed meanwhile (the caller gives the tokens back). */
        synchronized boolean fetched(long extra, long[] available) {
            fetching = false;
            if (closed) {
                return extra == 0;
            }
            tokens += extra;
            if (available != null) {
                this.available = available;
            }
            return true;
        }

        /**
         * A request served from this reserve ends: {@code delta} &gt; 0 comes back to the reserve,
         * {@code delta} &lt; 0 is taken from it as far as it holds. Returns what is left for Redis.
         */
        synchronized long settle(long delta) {
            if (closed) {
                return delta;
            }
            if (delta > 0) {
                tokens += delta;
                return 0;
            }
            long take = Math.min(tokens, -delta);
            tokens -= take;
            return delta + take;
        }

        synchronized boolean idle(long now, long idleNanos) {
            return !fetching && now - lastUse >= idleNanos;
        }

        /** Closes the reserve; what it held goes back to Redis (by the caller). */
        synchronized long close() {
            closed = true;
            long t = tokens;
            tokens = 0;
            return t;
        }

        synchronized long tokens() {
            return tokens;
        }
    }

    /** The counters of one group, compared by their names. */
    record GroupKey(String[] keys) {
        @Override
        public boolean equals(Object o) {
            return o instanceof GroupKey k && Arrays.equals(keys, k.keys);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(keys);
        }

        @Override
        public String toString() {
            return Arrays.toString(keys);
        }
    }

    /**
     * Slots this replica holds in a group of concurrency counters: each a lease id counted in every
     * counter of the group (and renewed like a request's lease), free or lent to a request.
     */
    static final class Pool {
        final GroupKey key;
        final int[] limits;
        private final ArrayDeque<String> free = new ArrayDeque<>();
        private final Set<String> all = new HashSet<>();
        private int fetching;
        private boolean closed;
        /** The fewest free slots since {@code periodStart}: that many were not needed in the period. */
        private int minFree;
        private long periodStart;
        private long lastUse;
        private int demand;
        private long since;

        Pool(GroupKey key, int[] limits, long now) {
            this.key = key;
            this.limits = limits;
            this.periodStart = now;
            this.since = now;
            this.lastUse = now;
        }

        synchronized String take(long now) {
            demand++;
            lastUse = now;
            String slot = closed ? null : free.pollFirst();
            if (free.size() < minFree) {
                minFree = free.size();
            }
            return slot;
        }

        /** A lent slot comes back; false when the pool is closed (the caller frees the slot in Redis). */
        synchronized boolean release(String slot, long now) {
            lastUse = now;
            if (closed) {
                all.remove(slot);
                return false;
            }
            free.addFirst(slot);
            return true;
        }

        /**
         * How many more slots to take: none while some are free or on the way, or when requests
         * come further apart than {@code ahead}; else half as many again as this replica holds (at
         * least one), up to {@code cap} in all.
         */
        synchronized int wanted(long now, int cap, boolean missed, long aheadNanos) {
            long elapsed = now - since;
            boolean busy = demand >= 2 && (double) demand * aheadNanos / Math.max(elapsed, aheadNanos / 10) >= 2;
            if (elapsed >= aheadNanos) {
                demand = 0;
                since = now;
            }
            if (closed || !missed || fetching > 0 || !free.isEmpty() || !busy) {
                return 0;
            }
            int more = Math.min(Math.max(1, all.size() / 2), cap - all.size());
            if (more <= 0) {
                return 0;
            }
            fetching += more;
            return more;
        }

        /** A top-up's answer (null: refused); false when the pool was emptied meanwhile (the caller frees the slot). */
        synchronized boolean fetched(String slot) {
            fetching--;
            if (slot == null) {
                return true;
            }
            if (closed) {
                return false;
            }
            all.add(slot);
            free.addFirst(slot);
            return true;
        }

        /** The slots free throughout the last period (given back by the caller); starts a new period. */
        synchronized List<String> unused(long now, long idleNanos) {
            if (now - periodStart < idleNanos) {
                return List.of();
            }
            List<String> out = new ArrayList<>(minFree);
            for (int i = 0; i < minFree && !free.isEmpty(); i++) {
                String slot = free.pollLast();
                all.remove(slot);
                out.add(slot);
            }
            minFree = free.size();
            periodStart = now;
            return out;
        }

        /** Nothing held, nothing coming, unused for a while: forgotten (and closed, so a late top-up is freed). */
        synchronized boolean empty(long now, long idleNanos) {
            if (all.isEmpty() && fetching == 0 && now - lastUse >= idleNanos) {
                closed = true;
                return true;
            }
            return false;
        }

        /** Closes the pool: every free slot, removed (the caller frees them); lent ones are freed when they come back. */
        synchronized List<String> drain() {
            closed = true;
            List<String> out = new ArrayList<>(free);
            all.removeAll(out);
            free.clear();
            minFree = 0;
            return out;
        }

        synchronized List<String> ids() {
            return new ArrayList<>(all);
        }

        synchronized int free() {
            return free.size();
        }

        synchronized int size() {
            return all.size();
        }
    }
}
