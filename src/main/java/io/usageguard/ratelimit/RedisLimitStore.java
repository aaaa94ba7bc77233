package io.usageguard.ratelimit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.bucket4j.TimeMeter;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ZAddArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.CommandOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Buckets and concurrency counters shared by every replica through Redis, kept by one Lua script
 * ({@code redis-limits.lua}, loaded once with {@code SCRIPT LOAD}, run with {@code EVALSHA}):
 * <ul>
 *   <li>Admission: one call per Redis hash slot does all of a request's work there. The account's
 *       and the key's buckets and concurrency counters share the {@code {account}} hash tag, so
 *       they are one call; a model's global ceiling ({@code {m:glob}}) is a second one, only when
 *       configured. The script checks every bucket and counter first and takes only if all have
 *       room (in shadow mode each bucket by itself), so a refusal takes nothing and gives nothing
 *       back. Exact: no over-admission.</li>
 *   <li>The end of a request (slots freed, token reservation reconciled) is one fire-and-forget
 *       call per slot.</li>
 *   <li>Calls are batched ({@link Batches}): while one batch is on the way to Redis, what arrives
 *       waits and goes in the next, one script run per slot applying each request in arrival
 *       order, every bucket read and written once per run.</li>
 *   <li>Buckets: per window, a token bucket with bucket4j's greedy refill, counted on the gateway's
 *       clock (passed to the script); every bucket key has a TTL of the time it needs to refill
 *       completely plus a minute (a full bucket is the same as no key, and is deleted).</li>
 *   <li>Concurrency: a sorted set per counter of lease ids scored by their expiry. This replica
 *       renews its leases every {@code leaseTtl / 3}; the leases of a replica that died expire
 *       after {@code leaseTtl}.</li>
 * </ul>
 * Keys are built by the caller with the account in a hash tag, so a Redis Cluster keeps one
 * account's keys in one slot. A failed call (Redis down, timeout) fails the future; commands are
 * bounded by the Lettuce client's timeout options.
 */
public final class RedisLimitStore implements LimitStore, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RedisLimitStore.class);

    static final String SCRIPT = resource("redis-limits.lua");
    static final String SHA = sha1(SCRIPT);

    private static final String ADMIT = "a";
    private static final String SETTLE = "s";
    /** Admission modes of the script: see redis-limits.lua. */
    static final int ALL_OR_NONE = 0;
    static final int EACH = 1;
    static final int CHECK_ONLY = 2;
    private static final Admission.LeaseGroup[] NO_GROUPS = {};
    private static final Admission.Use[] NO_USES = {};
    private static final long[] NO_AMOUNTS = {};
    /** At most this many requests in one batch of script calls. */
    static final int MAX_BATCH = 64;

    private final RedisClient client;
    private final RedisURI uri;
    private final TimeMeter time;
    private final Clock clock;
    private final long leaseTtlMillis;
    /**
     * The leases this replica holds, for renewal: a group's counter keys (its own array, compared
     * by identity, the same one that is released) and the lease id.
     */
    private final Map<String[], String> leases = new ConcurrentHashMap<>();
    private final ScheduledExecutorService renewer;
    private final Batches batches = new Batches();
    private final AtomicBoolean connecting = new AtomicBoolean();
    private volatile long nextConnectAttemptNanos;
    private volatile StatefulRedisConnection<String, String> connection;
    /** What this replica takes ahead of need (see {@link RedisReserves}); off when its share is 0. */
    final RedisReserves reserves;

    /**
     * A store that takes nothing ahead: every admission is a script call.
     *
     * @param commandTimeout not used here: the client's timeout options bound every command
     */
    public RedisLimitStore(RedisClient client, RedisURI uri, TimeMeter time, Clock clock, Duration leaseTtl,
                           Duration commandTimeout) {
        this(client, uri, time, clock, leaseTtl, commandTimeout, 0, Duration.ZERO);
    }

    /**
     * @param reserveShare the most of a limit this replica takes ahead of need ({@link RedisReserves}); 0: nothing
     * @param reserveAhead how much of its recent traffic on a bucket this replica takes ahead
     */
    public RedisLimitStore(RedisClient client, RedisURI uri, TimeMeter time, Clock clock, Duration leaseTtl,
                           Duration commandTimeout, double reserveShare, Duration reserveAhead) {
        this.client = client;
        this.uri = uri;
        this.time = time;
        this.clock = clock;
        this.leaseTtlMillis = leaseTtl.toMillis();
        this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "usage-guard-lease-renewal");
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(100, leaseTtlMillis / 3);
        renewer.scheduleWithFixedDelay(this::renew, period, period, TimeUnit.MILLISECONDS);
        this.reserves = new RedisReserves(reserveShare, reserveAhead, time, new RedisReserves.Calls() {
            @Override
            public CompletableFuture<BucketResult> consume(String key, BucketSpec spec, long version, long amount) {
                return RedisLimitStore.this.consume(key, spec, version, amount);
            }

            @Override
            public void refund(String key, BucketSpec spec, long version, long amount) {
                RedisLimitStore.this.refund(key, spec, version, amount);
            }

            @Override
            public CompletableFuture<Boolean> takeSlot(String[] keys, int[] limits, String slot) {
                // like acquire, but not registered for renewal by its keys: the reserve renews its slots itself
                Admission.LeaseGroup[] group = {new Admission.LeaseGroup(keys, limits, null)};
                return call(ADMIT, ALL_OR_NONE, 0, slot, NO_USES, NO_AMOUNTS, group).thenApply(r -> {
                    apply(r, NO_USES, group, null);
                    return group[0].held;
                });
            }

            @Override
            public void freeSlot(String[] keys, String slot) {
                // like release, but leaves the lease registry alone (a request's lease may share the keys array)
                call(SETTLE, 0, 0, slot, NO_USES, NO_AMOUNTS,
                        new Admission.LeaseGroup[]{new Admission.LeaseGroup(keys, new int[keys.length], null)});
            }
        }, "rs-" + Long.toString(java.util.concurrent.ThreadLocalRandom.current().nextLong() >>> 1, 36));
        if (reserves.enabled()) {
            long upkeep = reserves.upkeepPeriod().toMillis();
            renewer.scheduleWithFixedDelay(this::upkeep, upkeep, upkeep, TimeUnit.MILLISECONDS);
        }
        connectAsync();
    }

    @Override
    public String name() {
        return "redis";
    }

    /**
     * All of a request's buckets and counters, one call per hash slot: all or none in enforce mode;
     * each bucket by itself in shadow mode (what passes is counted); check only when a limit already
     * refused without the store (a zero limit or an amount above a window).
     */
    @Override
    public CompletableFuture<Void> admit(Admission a) {
        int mode = a.limits.mode() == LimitMode.SHADOW ? EACH : a.refused() ? CHECK_ONLY : ALL_OR_NONE;
        boolean reserve = mode == ALL_OR_NONE && reserves.enabled();
        if (reserve) {
            reserves.take(a);
        }
        CompletableFuture<Void> account = admitSlot(a, false, mode);
        CompletableFuture<Void> global = admitSlot(a, true, mode);
        if (reserve) {
            reserves.topUp(a); // after the request's own call: in a batch, the request comes first
        }
        if (account == null) {
            return global == null ? CompletableFuture.completedFuture(null) : global;
        }
        return global == null ? account : CompletableFuture.allOf(account, global);
    }

    private CompletableFuture<Void> admitSlot(Admission a, boolean global, int mode) {
        int nu = 0;
        int ng = 0;
        for (Admission.Use u : a.uses) {
            if (u.result == null && global(u) == global) {
                nu++;
            }
        }
        for (Admission.LeaseGroup g : a.groups) {
            if (g.refused < 0 && g.pooled == null && global(g) == global) {
                ng++;
            }
        }
        if (nu + ng == 0) {
            return null;
        }
        Admission.Use[] uses = nu == 0 ? NO_USES : new Admission.Use[nu];
        long[] amounts = nu == 0 ? NO_AMOUNTS : new long[nu];
        Admission.LeaseGroup[] groups = ng == 0 ? NO_GROUPS : new Admission.LeaseGroup[ng];
        nu = 0;
        ng = 0;
        for (Admission.Use u : a.uses) {
            if (u.result == null && global(u) == global) {
                amounts[nu] = u.amount;
                uses[nu++] = u;
            }
        }
        for (Admission.LeaseGroup g : a.groups) {
            if (g.refused < 0 && g.pooled == null && global(g) == global) {
                groups[ng++] = g;
            }
        }
        String leaseId = a.leaseId();
        return call(ADMIT, mode, a.limits.version(), leaseId, uses, amounts, groups)
                .thenAccept(r -> apply(r, uses, groups, leaseId));
    }

    /** The script's answer into the uses' results and the groups' state; held leases are renewed when {@code leaseId} is given. */
    private void apply(long[] r, Admission.Use[] uses, Admission.LeaseGroup[] groups, String leaseId) {
        int full = (int) r[0];
        boolean held = r[1] == 1;
        int p = 2;
        for (Admission.Use u : uses) {
            int status = (int) r[p];
            long waitMicros = r[p + 1];
            p += 2;
            int n = u.spec.windows().length;
            long[] available = Arrays.copyOfRange(r, p, p + n);
            p += n;
            // status 2: there was enough but nothing was taken (another limit refused)
            u.undone = status == 2;
            u.result = new BucketResult(status != 0, available,
                    status != 0 ? 0 : waitMicros < 0 ? Long.MAX_VALUE : waitMicros * 1000);
        }
        int offset = 0;
        for (Admission.LeaseGroup g : groups) {
            g.refused = full >= offset && full < offset + g.keys().length ? full - offset : -1;
            g.held = held;
            if (held && leaseId != null) {
                leases.put(g.keys(), leaseId);
            }
            offset += g.keys().length;
        }
    }

    /** Frees the held slots and gives back or charges tokens: one fire-and-forget call per hash slot. */
    @Override
    public void settle(Admission a, long[] deltas) {
        long[] rest = reserves.enabled() ? reserves.settle(a, deltas) : deltas;
        settleSlot(a, rest, false);
        settleSlot(a, rest, true);
    }

    private void settleSlot(Admission a, long[] deltas, boolean global) {
        int nu = 0;
        int ng = 0;
        for (int i = 0; i < a.uses.length; i++) {
            if (deltas[i] != 0 && global(a.uses[i]) == global) {
                nu++;
            }
        }
        for (Admission.LeaseGroup g : a.groups) {
            if (g.held && g.pooled == null && global(g) == global) {
                ng++;
            }
        }
        if (nu + ng == 0) {
            return;
        }
        Admission.Use[] uses = nu == 0 ? NO_USES : new Admission.Use[nu];
        long[] amounts = nu == 0 ? NO_AMOUNTS : new long[nu];
        Admission.LeaseGroup[] groups = ng == 0 ? NO_GROUPS : new Admission.LeaseGroup[ng];
        nu = 0;
        ng = 0;
        for (int i = 0; i < a.uses.length; i++) {
            if (deltas[i] != 0 && global(a.uses[i]) == global) {
                amounts[nu] = deltas[i];
                uses[nu++] = a.uses[i];
            }
        }
        for (Admission.LeaseGroup g : a.groups) {
            if (g.held && g.pooled == null && global(g) == global) {
                groups[ng++] = g;
                leases.remove(g.keys());
            }
        }
        // if this fails, the leases expire by themselves and the tokens come back by refill
        call(SETTLE, 0, a.limits.version(), a.leaseId(), uses, amounts, groups);
    }

    private static boolean global(Admission.Use u) {
        return u.spec.scope() == Scope.GLOBAL;
    }

    private static boolean global(Admission.LeaseGroup g) {
        return g.scopes != null && g.scopes.length > 0 && g.scopes[0] == Scope.GLOBAL;
    }

    @Override
    public CompletableFuture<BucketResult> consume(String key, BucketSpec spec, long version, long amount) {
        Admission.Use[] use = {new Admission.Use(spec, key, amount)};
        return call(ADMIT, ALL_OR_NONE, version, "-", use, new long[]{amount}, NO_GROUPS)
                .thenApply(r -> {
                    apply(r, use, NO_GROUPS, null);
                    return use[0].result;
                });
    }

    @Override
    public void refund(String key, BucketSpec spec, long version, long amount) {
        call(SETTLE, 0, version, "-", new Admission.Use[]{new Admission.Use(spec, key, amount)}, new long[]{amount}, NO_GROUPS);
    }

    @Override
    public void charge(String key, BucketSpec spec, long version, long amount) {
        call(SETTLE, 0, version, "-", new Admission.Use[]{new Admission.Use(spec, key, amount)}, new long[]{-amount}, NO_GROUPS);
    }

    @Override
    public CompletableFuture<Integer> acquire(String[] keys, int[] limits, String leaseId) {
        Admission.LeaseGroup[] group = {new Admission.LeaseGroup(keys, limits, null)};
        return call(ADMIT, ALL_OR_NONE, 0, leaseId, NO_USES, NO_AMOUNTS, group)
                .thenApply(r -> {
                    apply(r, NO_USES, group, leaseId);
                    return group[0].refused;
                });
    }

    @Override
    public void release(String[] keys, String leaseId) {
        leases.remove(keys);
        Admission.LeaseGroup g = new Admission.LeaseGroup(keys, new int[keys.length], null);
        call(SETTLE, 0, 0, leaseId, NO_USES, NO_AMOUNTS, new Admission.LeaseGroup[]{g});
    }

    /**
     * Queues one request's script work (see {@link Batches}) and answers with its part of the call
     * that carries it. Never throws: a store that is not connected fails the future.
     */
    private CompletableFuture<long[]> call(String op, int mode, long version, String leaseId, Admission.Use[] uses,
                                           long[] amounts, Admission.LeaseGroup[] groups) {
        StatefulRedisConnection<String, String> c = connection;
        if (c == null) {
            connectAsync();
            return CompletableFuture.failedFuture(new IllegalStateException("not connected to Redis"));
        }
        Call call = new Call(op, mode, time.currentTimeNanos() / 1000, version, leaseId, uses, amounts, groups);
        batches.queue.add(call);
        batches.send(c);
        return call.answer;
    }

    private static boolean noScript(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RedisNoScriptException || (t.getMessage() != null && t.getMessage().startsWith("NOSCRIPT"))) {
                return true;
            }
            if (!(t instanceof CompletionException)) {
                break;
            }
        }
        return false;
    }

    /**
     * The script calls of this replica: at most one batch on the way at a time. Whatever arrives
     * while it is on the way waits in the queue and goes, in arrival order, in the next batch: one
     * script call per hash slot, each request applied after the one before (redis-limits.lua), so
     * admission stays exact. Under light load a batch is one request and nothing waits; under load
     * one call carries many, and Redis runs a script and reads each bucket once for all of them.
     * A queued request waits for the batch on the way, so its answer can take up to two command
     * timeouts when Redis stops answering.
     */
    private final class Batches {
        final ConcurrentLinkedQueue<Call> queue = new ConcurrentLinkedQueue<>();
        final AtomicBoolean sending = new AtomicBoolean();

        void send(StatefulRedisConnection<String, String> c) {
            while (!queue.isEmpty() && sending.compareAndSet(false, true)) {
                Map<Integer, List<Call>> bySlot = new LinkedHashMap<>();
                int n = 0;
                Call call;
                while (n < MAX_BATCH && (call = queue.poll()) != null) {
                    bySlot.computeIfAbsent(call.slot(), k -> new ArrayList<>()).add(call);
                    n++;
                }
                if (n == 0) {
                    sending.set(false);
                    continue;
                }
                AtomicInteger left = new AtomicInteger(bySlot.size());
                for (List<Call> batch : bySlot.values()) {
                    dispatch(c, batch).whenComplete((r, e) -> {
                        answer(batch, r, e);
                        if (left.decrementAndGet() == 0) {
                            sending.set(false);
                            send(c);
                        }
                    });
                }
                return;
            }
        }

        /** EVALSHA; once more with EVAL if Redis lost its script cache (e.g. after a restart), which also loads it again. */
        private CompletableFuture<long[]> dispatch(StatefulRedisConnection<String, String> c, List<Call> batch) {
            try {
                RedisAsyncCommands<String, String> async = c.async();
                return async.dispatch(CommandType.EVALSHA, new Longs(), args(batch, false)).toCompletableFuture()
                        .exceptionallyCompose(e -> noScript(e)
                                ? async.dispatch(CommandType.EVAL, new Longs(), args(batch, true)).toCompletableFuture()
                                : CompletableFuture.failedFuture(e));
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        /** Each request's part of the answer: its length, then itself. */
        private void answer(List<Call> batch, long[] r, Throwable e) {
            int p = 0;
            for (Call call : batch) {
                if (e != null) {
                    call.answer.completeExceptionally(e);
                } else if (r == null || p >= r.length || p + 1 + r[p] > r.length) {
                    call.answer.completeExceptionally(new IllegalStateException("short answer from the rate limit script"));
                } else {
                    int len = (int) r[p];
                    call.answer.complete(Arrays.copyOfRange(r, p + 1, p + 1 + len));
                    p += 1 + len;
                }
            }
        }

        private CommandArgs<String, String> args(List<Call> batch, boolean eval) {
            CommandArgs<String, String> args = new CommandArgs<>(StringCodec.UTF8);
            args.add(eval ? SCRIPT : SHA);
            int keys = 0;
            for (Call call : batch) {
                keys += call.keys();
            }
            args.add(keys);
            for (Call call : batch) {
                call.addKeys(args);
            }
            // each bucket configuration once: the requests of a batch mostly share them
            Map<BucketSpec, Integer> specs = new IdentityHashMap<>(); // → its 1-based index in the call
            List<BucketSpec> ordered = new ArrayList<>();
            for (Call call : batch) {
                for (Admission.Use u : call.uses) {
                    if (specs.putIfAbsent(u.spec, ordered.size() + 1) == null) {
                        ordered.add(u.spec);
                    }
                }
            }
            args.add(ordered.size());
            for (BucketSpec spec : ordered) {
                Window[] windows = spec.windows();
                long[] limits = spec.limits();
                args.add(windows.length);
                for (int w = 0; w < windows.length; w++) {
                    args.add(windows[w].id()).add(windows[w].length().toNanos() / 1000).add(limits[w]);
                }
            }
            args.add(batch.size());
            for (Call call : batch) {
                call.addArgs(args, specs);
            }
            return args;
        }
    }

    /** One request's script work (see redis-limits.lua) and its answer. */
    private final class Call {
        final String op;
        final int mode;
        final long now;
        final long version;
        final String leaseId;
        final Admission.Use[] uses;
        final long[] amounts;
        final Admission.LeaseGroup[] groups;
        final CompletableFuture<long[]> answer = new CompletableFuture<>();

        Call(String op, int mode, long now, long version, String leaseId, Admission.Use[] uses, long[] amounts,
             Admission.LeaseGroup[] groups) {
            this.op = op;
            this.mode = mode;
            this.now = now;
            this.version = version;
            this.leaseId = leaseId;
            this.uses = uses;
            this.amounts = amounts;
            this.groups = groups;
        }

        /** The hash slot of its keys (all of one request's keys in one call share it: the caller splits by slot). */
        int slot() {
            return SlotHash.getSlot(uses.length > 0 ? uses[0].key() : groups[0].keys()[0]);
        }

        int keys() {
            int keys = uses.length;
            for (Admission.LeaseGroup g : groups) {
                keys += g.keys().length;
            }
            return keys;
        }

        void addKeys(CommandArgs<String, String> args) {
            for (Admission.Use u : uses) {
                args.addKey(u.key());
            }
            for (Admission.LeaseGroup g : groups) {
                for (String k : g.keys()) {
                    args.addKey(k);
                }
            }
        }

        void addArgs(CommandArgs<String, String> args, Map<BucketSpec, Integer> specs) {
            args.add(op).add(now).add(version).add(uses.length).add(leaseId).add(mode).add(leaseTtlMillis).add(keys());
            for (int i = 0; i < uses.length; i++) {
                args.add(amounts[i]).add(specs.get(uses[i].spec));
            }
            if (ADMIT.equals(op)) {
                for (Admission.LeaseGroup g : groups) {
                    for (int limit : g.limits) {
                        args.add(limit);
                    }
                }
            }
        }
    }

    /** The script's array of integers, straight into a long[]. */
    private static final class Longs extends CommandOutput<String, String, long[]> {
        private int i;

        Longs() {
            super(StringCodec.UTF8, null);
        }

        @Override
        public void multi(int count) {
            if (output == null) {
                output = new long[Math.max(0, count)];
            }
        }

        @Override
        public void set(long integer) {
            if (output != null && i < output.length) {
                output[i++] = integer;
            }
        }
    }

    /** Extends every lease this replica holds; a replica that stops doing this loses its slots after the TTL. */
    private void renew() {
        StatefulRedisConnection<String, String> c = connection;
        if (c == null || (leases.isEmpty() && reserves.pools.isEmpty())) {
            return;
        }
        try {
            RedisAsyncCommands<String, String> async = c.async();
            long expiry = clock.millis() + leaseTtlMillis;
            for (Map.Entry<String[], String> e : leases.entrySet()) {
                for (String key : e.getKey()) {
                    async.zadd(key, ZAddArgs.Builder.xx(), (double) expiry, e.getValue());
                    async.pexpire(key, leaseTtlMillis);
                }
            }
            // reserved slots are added back if Redis lost them (a restart): this replica still counts on them
            reserves.slots((keys, slot) -> {
                for (String key : keys) {
                    async.zadd(key, (double) expiry, slot);
                    async.pexpire(key, leaseTtlMillis);
                }
            });
        } catch (RuntimeException e) {
            log.debug("lease renewal failed: {}", e.toString());
        }
    }

    /** Gives back reserves this replica has not used lately ({@link RedisReserves#upkeep}). */
    void upkeep() {
        try {
            reserves.upkeep();
        } catch (RuntimeException e) {
            log.debug("reserve upkeep failed: {}", e.toString());
        }
    }

    /** Connects (and loads the script) in the background; until then every operation fails fast (and the failure policy applies). */
    private void connectAsync() {
        if (connection != null || System.nanoTime() < nextConnectAttemptNanos || !connecting.compareAndSet(false, true)) {
            return;
        }
        nextConnectAttemptNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        client.connectAsync(StringCodec.UTF8, uri).toCompletableFuture()
                .thenCompose(c -> c.async().scriptLoad(SCRIPT).toCompletableFuture()
                        .handle((sha, e) -> {
                            if (e != null) {
                                c.closeAsync();
                                throw e instanceof CompletionException ce ? ce : new CompletionException(e);
                            }
                            if (!SHA.equals(sha)) {
                                log.warn("Redis gave the rate limit script the digest {}, expected {}", sha, SHA);
                            }
                            return c;
                        }))
                .whenComplete((c, e) -> {
                    if (c != null) {
                        connection = c;
                        log.info("rate limit store connected to Redis");
                    } else {
                        log.warn("rate limit store cannot connect to Redis yet: {}", e.toString());
                    }
                    connecting.set(false);
                });
    }

    @Override
    public void close() {
        renewer.shutdownNow();
        if (reserves.enabled() && connection != null) {
            // what this replica holds ahead goes back to the other replicas, as far as Redis answers within a second
            reserves.close();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
            while ((!batches.queue.isEmpty() || batches.sending.get()) && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            }
        }
        StatefulRedisConnection<String, String> c = connection;
        if (c != null) {
            c.close();
        }
    }

    private static String resource(String name) {
        try (InputStream in = RedisLimitStore.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha1(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
