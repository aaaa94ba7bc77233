package io.usageguard.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.usageguard.testsupport.Http;
import io.usageguard.testsupport.MutableClock;
import io.usageguard.testsupport.PrivateRedis;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Redis limit store's script (redis-limits.lua) on its edges, against a redis-server this test
 * starts, on a fake clock: greedy refill over time, the longest wait of several windows, amounts
 * above a window, reloads keeping counts, all or none across buckets and counters, TTLs, and the
 * script cache being flushed.
 */
class RedisLimitScriptTest {

    static PrivateRedis redis;
    static RedisURI uri;
    static RedisClient client;
    static StatefulRedisConnection<String, String> conn;
    static RedisCommands<String, String> r;
    static RedisLimitStore store;
    static final MutableClock clock = new MutableClock();
    static final String prefix = "ugscript-" + UUID.randomUUID().toString().substring(0, 8) + ":rl:";
    static final AtomicInteger accounts = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        redis = PrivateRedis.start();
        uri = RedisURI.create(redis.url());
        client = RedisClient.create(uri);
        conn = client.connect();
        r = conn.sync();
        store = new RedisLimitStore(client, uri, new ClockTimeMeter(clock), clock, Duration.ofSeconds(30), Duration.ofSeconds(1));
        RateLimitTestSupport.awaitConnected(store, prefix + "probe");
    }

    @AfterAll
    static void stop() {
        if (store != null) {
            store.close();
        }
        if (conn != null) {
            conn.close();
        }
        if (client != null) {
            client.shutdown();
        }
        if (redis != null) {
            redis.close();
        }
    }

    static BucketSpec spec(Window.Unit unit, Window[] windows, Long... limits) {
        return BucketSpec.of(Scope.ACCOUNT, unit, windows, limits);
    }

    static String base() {
        return prefix + "{acct-" + accounts.incrementAndGet() + "}:m:";
    }

    static LimitStore.BucketResult consume(String key, BucketSpec spec, long version, long amount) throws Exception {
        return store.consume(key, spec, version, amount).get(5, TimeUnit.SECONDS);
    }

    static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(5, TimeUnit.SECONDS);
    }

    /** Fire-and-forget calls are done once a later call on the same connection has answered. */
    static void flushed() throws Exception {
        consume(prefix + "probe", spec(Window.Unit.REQUESTS, new Window[]{Window.RPM}, 10L), 1, 1);
    }

    @Test
    void windowsRefillGreedilyOnTheFakeClock() throws Exception {
        String key = base() + "req";
        BucketSpec rpm10 = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM}, 10L);
        for (int i = 9; i >= 0; i--) {
            LimitStore.BucketResult ok = consume(key, rpm10, 1, 1);
            assertThat(ok.consumed()).isTrue();
            assertThat(ok.available()).containsExactly(i);
            assertThat(ok.nanosToWait()).isZero();
        }
        LimitStore.BucketResult refused = consume(key, rpm10, 1, 1);
        assertThat(refused.consumed()).isFalse();
        assertThat(refused.available()).containsExactly(0);
        assertThat(refused.nanosToWait()).isEqualTo(Duration.ofSeconds(6).toNanos());
        clock.advance(Duration.ofSeconds(4));
        assertThat(consume(key, rpm10, 1, 1).nanosToWait()).isEqualTo(Duration.ofSeconds(2).toNanos());
        clock.advance(Duration.ofSeconds(2));
        assertThat(consume(key, rpm10, 1, 1).available()).containsExactly(0);
        // 3 tokens come back in 18 s; asking for 3 after 17 s waits one more second
        clock.advance(Duration.ofSeconds(17));
        LimitStore.BucketResult three = consume(key, rpm10, 1, 3);
        assertThat(three.consumed()).isFalse();
        assertThat(three.available()).containsExactly(2);
        assertThat(three.nanosToWait()).isEqualTo(Duration.ofSeconds(1).toNanos());
        clock.advance(Duration.ofHours(1));
        assertThat(consume(key, rpm10, 1, 1).available()).as("full again, never above the limit").containsExactly(9);
    }

    @Test
    void aFractionalRefillKeepsItsRemainderAcrossCalls() throws Exception {
        // 7 per minute: one token every 8.571428... s, whether the time passes in one step or in many
        String key = base() + "req";
        BucketSpec rpm7 = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM}, 7L);
        BucketSpec other = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM}, 7L);
        String otherKey = base() + "req";
        for (int i = 0; i < 7; i++) {
            assertThat(consume(key, rpm7, 1, 1).consumed()).isTrue();
            assertThat(consume(otherKey, other, 1, 1).consumed()).isTrue();
        }
        // key: six 3-second steps (18 s: 2.1 tokens), taking a token whenever one is there
        int taken = 0;
        for (int i = 0; i < 6; i++) {
            clock.advance(Duration.ofSeconds(3));
            if (consume(key, rpm7, 1, 1).consumed()) {
                taken++;
            }
        }
        assertThat(taken).isEqualTo(2);
        // otherKey: one 18-second step
        assertThat(consume(otherKey, other, 1, 2).available()).containsExactly(0);
        // both are 0.1 token (6/7 s) into the next one: it is there after 60/7 - 6/7 = 54/7 s
        long expected = (long) Math.ceil(54_000_000.0 / 7) * 1000;
        assertThat(consume(key, rpm7, 1, 1).nanosToWait()).isEqualTo(expected);
        assertThat(consume(otherKey, other, 1, 1).nanosToWait()).isEqualTo(expected);
    }

    @Test
    void aRefusalBySeveralWindowsReportsTheLongestWait() throws Exception {
        String key = base() + "req";
        BucketSpec spec = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM, Window.RPH}, 10L, 12L);
        for (int i = 0; i < 10; i++) {
            assertThat(consume(key, spec, 1, 1).consumed()).isTrue();
        }
        LimitStore.BucketResult rpm = consume(key, spec, 1, 1);
        assertThat(rpm.consumed()).isFalse();
        assertThat(rpm.available()).containsExactly(0, 2);
        assertThat(rpm.nanosToWait()).isEqualTo(Duration.ofSeconds(6).toNanos());
        clock.advance(Duration.ofMinutes(1));
        // RPM is full again; RPH got 12/60 of a token back: 2 left and a fifth of a token
        assertThat(consume(key, spec, 1, 2).available()).containsExactly(8, 0);
        LimitStore.BucketResult both = consume(key, spec, 1, 1);
        assertThat(both.consumed()).isFalse();
        assertThat(both.available()).containsExactly(8, 0);
        // the missing four fifths of an RPH token: 4/5 × 300 s
        assertThat(both.nanosToWait()).isEqualTo(Duration.ofSeconds(240).toNanos());
    }

    @Test
    void anAmountLargerThanAWindowNeverFitsAndTakesNothing() throws Exception {
        String key = base() + "tok";
        BucketSpec spec = spec(Window.Unit.TOKENS, new Window[]{Window.TPM, Window.TPD}, 100L, 1000L);
        LimitStore.BucketResult r1 = consume(key, spec, 1, 101);
        assertThat(r1.consumed()).isFalse();
        assertThat(r1.nanosToWait()).isEqualTo(Long.MAX_VALUE);
        assertThat(r1.available()).containsExactly(100, 1000);
        assertThat(r.exists(key)).as("nothing stored for a refusal").isZero();
        assertThat(consume(key, spec, 1, 100).available()).containsExactly(0, 900);
    }

    @Test
    void aReloadKeepsEachWindowsCountMatchedById() throws Exception {
        String key = base() + "req";
        BucketSpec two = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM}, 2L);
        consume(key, two, 1, 1);
        consume(key, two, 1, 1);
        assertThat(consume(key, two, 1, 1).consumed()).isFalse();
        // raised to 4: the 2 used stay used
        BucketSpec four = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM}, 4L);
        assertThat(consume(key, four, 2, 1).available()).containsExactly(1);
        // a replica still on the old configuration counts by the newer one stored
        assertThat(consume(key, two, 1, 1).available()).containsExactly(0);
        assertThat(consume(key, four, 2, 1).consumed()).isFalse();
        // lowered to 1: nothing left stays nothing left; a new RPH window starts full
        BucketSpec lowered = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM, Window.RPH}, 1L, 100L);
        LimitStore.BucketResult r3 = consume(key, lowered, 3, 1);
        assertThat(r3.consumed()).isFalse();
        assertThat(r3.available()).containsExactly(0, 100);
        clock.advance(Duration.ofSeconds(60));
        assertThat(consume(key, lowered, 3, 1).available()).containsExactly(0, 99);
        // RPM dropped, RPD added: RPH keeps its count
        BucketSpec hourDay = spec(Window.Unit.REQUESTS, new Window[]{Window.RPH, Window.RPD}, 100L, 1000L);
        assertThat(consume(key, hourDay, 4, 1).available()).containsExactly(98, 999);
        // a window whose limit is lowered below what is left keeps only the new limit
        BucketSpec tight = spec(Window.Unit.REQUESTS, new Window[]{Window.RPH, Window.RPD}, 10L, 1000L);
        assertThat(consume(key, tight, 5, 1).available()).containsExactly(9, 998);
    }

    @Test
    void bucketKeysLiveUntilFullAgainPlusAMinuteAndCountersForTheLeaseTtl() throws Exception {
        String base = base();
        BucketSpec spec = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM, Window.RPD}, 10L, 1000L);
        consume(base + "req", spec, 1, 1);
        // RPD needs 86.4 s to get its token back, RPM 6 s: the longest, plus a minute
        assertThat(r.pttl(base + "req")).isBetween(146_400L - 2_000, 146_400L);
        assertThat(r.get(base + "req")).startsWith("U1");
        String[] counters = {base + "conc", base + "k:1:conc"};
        assertThat(get(store.acquire(counters, new int[]{2, 1}, "lease-1"))).isEqualTo(-1);
        for (String c : counters) {
            assertThat(r.pttl(c)).isBetween(28_000L, 30_000L);
            assertThat(r.zscore(c, "lease-1")).isEqualTo((double) (clock.millis() + 30_000));
        }
        // the second slot of the key is not there: nothing is taken from the account either
        assertThat(get(store.acquire(counters, new int[]{2, 1}, "lease-2"))).isEqualTo(1);
        assertThat(r.zcard(counters[0])).isEqualTo(1);
        store.release(counters, "lease-1");
        flushed();
        assertThat(r.exists(counters)).isZero();
        // a bucket given back everything is full, the same as no key
        store.refund(base + "req", spec, 1, 5);
        flushed();
        assertThat(r.exists(base + "req")).isZero();
    }

    @Test
    void expiredLeasesOfADeadReplicaDoNotCount() throws Exception {
        String[] counter = {base() + "conc"};
        r.zadd(counter[0], clock.millis() + 30_000, "dead:1");
        assertThat(get(store.acquire(counter, new int[]{1}, "live:1"))).isZero();
        clock.advance(Duration.ofSeconds(31));
        assertThat(get(store.acquire(counter, new int[]{1}, "live:1"))).isEqualTo(-1);
        assertThat(r.zrange(counter[0], 0, -1)).containsExactly("live:1");
        store.release(counter, "live:1");
    }

    @Test
    void chargingTakesWhatThereIsAndRefundingNeverPassesTheLimit() throws Exception {
        String key = base() + "tok";
        BucketSpec spec = spec(Window.Unit.TOKENS, new Window[]{Window.TPM, Window.TPD}, 100L, 1000L);
        consume(key, spec, 1, 30);
        store.charge(key, spec, 1, 500);
        flushed();
        assertThat(consume(key, spec, 1, 1).available()).as("TPM went to zero, TPD took as much").containsExactly(0, 900);
        store.refund(key, spec, 1, 50);
        flushed();
        assertThat(consume(key, spec, 1, 1).available()).containsExactly(49, 949);
        // charging a bucket that is not stored (full) creates it
        String fresh = base() + "tok";
        store.charge(fresh, spec, 1, 40);
        flushed();
        assertThat(consume(fresh, spec, 1, 1).available()).containsExactly(59, 959);
    }

    /** An admission as the filter plans it: account requests and tokens, account and key counters. */
    static Admission admission(String base, LimitMode mode, long rpm, long tpm, int concurrency, long tokens, String leaseId) {
        ResolvedLimits limits = ResolvedLimits.merge("T", mode, 1,
                new LimitSet(rpm, null, null, tpm, null, null, null, concurrency, null, null), null, null);
        BucketSpec requests = limits.specs()[0];
        BucketSpec tok = limits.specs()[1];
        Admission.Use[] uses = {new Admission.Use(requests, base + "req", 1), new Admission.Use(tok, base + "tok", tokens)};
        Admission.LeaseGroup[] groups = {new Admission.LeaseGroup(new String[]{base + "conc"}, new int[]{concurrency},
                new Scope[]{Scope.ACCOUNT})};
        return new Admission(limits, 1.0, "m", tokens, 0, uses, groups, leaseId);
    }

    @Test
    void aRefusedAdmissionTakesNothingAnywhere() throws Exception {
        String base = base();
        Admission first = admission(base, LimitMode.ENFORCE, 10, 100, 5, 80, "l1");
        get(first.run(store));
        assertThat(first.refused()).isFalse();
        assertThat(first.uses[1].result.available()).containsExactly(20);
        // the tokens refuse: neither the request nor the concurrency slot is taken
        Admission second = admission(base, LimitMode.ENFORCE, 10, 100, 5, 30, "l2");
        get(second.run(store));
        assertThat(second.refused()).isTrue();
        assertThat(second.uses[0].result.consumed()).as("requests had room").isTrue();
        assertThat(second.uses[0].consumed()).as("but nothing was taken").isFalse();
        assertThat(second.uses[0].result.available()).containsExactly(8);
        assertThat(second.uses[1].result.consumed()).isFalse();
        assertThat(second.uses[1].result.nanosToWait()).isEqualTo(Duration.ofSeconds(6).toNanos());
        assertThat(second.groups[0].held).isFalse();
        assertThat(second.rejection().getMessage()).contains("tokens per minute (TPM)");
        assertThat(r.zcard(base + "conc")).isEqualTo(1);
        assertThat(consume(base + "req", first.uses[0].spec, 1, 1).available()).as("one request taken before").containsExactly(8);
        // the end of the first: the slot freed, 50 of the 80 tokens reserved given back
        first.finish(new io.usageguard.usage.TokenUsage(20, 10, true), true);
        flushed();
        assertThat(r.exists(base + "conc")).isZero();
        assertThat(consume(base + "tok", first.uses[1].spec, 1, 1).available()).containsExactly(69);
    }

    @Test
    void aFullCounterRefusesAndTheBucketsKeepTheirTokens() throws Exception {
        String base = base();
        Admission first = admission(base, LimitMode.ENFORCE, 10, 1000, 1, 10, "c1");
        get(first.run(store));
        Admission second = admission(base, LimitMode.ENFORCE, 10, 1000, 1, 10, "c2");
        get(second.run(store));
        assertThat(second.refused()).isTrue();
        assertThat(second.groups[0].refused).isZero();
        assertThat(second.rejection().code()).isEqualTo(io.usageguard.core.ErrorCode.CONCURRENCY_LIMIT_EXCEEDED);
        assertThat(consume(base + "req", first.uses[0].spec, 1, 1).available()).containsExactly(8);
        first.finish(null, false);
    }

    @Test
    void inShadowModeWhatHasRoomIsCounted() throws Exception {
        String base = base();
        Admission big = admission(base, LimitMode.SHADOW, 10, 100, 5, 100, "s1");
        get(big.run(store));
        Admission over = admission(base, LimitMode.SHADOW, 10, 100, 5, 1, "s2");
        get(over.run(store));
        assertThat(over.refused()).isTrue();
        assertThat(over.uses[0].consumed()).as("the request counted though the tokens refused").isTrue();
        assertThat(over.groups[0].held).isTrue();
        assertThat(consume(base + "req", over.uses[0].spec, 1, 1).available()).containsExactly(7);
        big.finish(null, false);
        over.finish(null, false);
    }

    @Test
    void aFlushedScriptCacheIsReloadedOnTheWay() throws Exception {
        r.scriptFlush();
        String key = base() + "req";
        BucketSpec spec = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM}, 10L);
        assertThat(consume(key, spec, 1, 1).available()).containsExactly(9);
        assertThat(r.scriptExists(RedisLimitStore.SHA)).containsExactly(true);
    }

    @Test
    void aLiveReplicaRenewsItsLeasesAndADeadOnesExpire() throws Exception {
        // a 300 ms lease TTL: each store renews its leases every 100 ms (real time)
        RedisLimitStore live = new RedisLimitStore(client, uri, new ClockTimeMeter(clock), clock, Duration.ofMillis(300), Duration.ofSeconds(1));
        RedisLimitStore dying = new RedisLimitStore(client, uri, new ClockTimeMeter(clock), clock, Duration.ofMillis(300), Duration.ofSeconds(1));
        try {
            String[] counter = {base() + "conc"};
            Http.await(Duration.ofSeconds(20), "stores connected", () -> {
                try {
                    return get(live.acquire(counter, new int[]{2}, "live:1")) == -1
                            && get(dying.acquire(counter, new int[]{2}, "dying:1")) == -1;
                } catch (Exception e) {
                    return false;
                }
            });
            dying.close(); // stops renewing, as a replica that died
            clock.advance(Duration.ofSeconds(1)); // both leases are past their first expiry
            long renewed = clock.millis() + 300;
            Http.await(Duration.ofSeconds(5), "the live lease renewed",
                    () -> Double.valueOf(renewed).equals(r.zscore(counter[0], "live:1")));
            assertThat(r.pttl(counter[0])).isPositive();
            // the dead replica's lease no longer counts, the live one still does
            assertThat(get(store.acquire(counter, new int[]{2}, "other:1"))).isEqualTo(-1);
            assertThat(get(store.acquire(counter, new int[]{2}, "other:2"))).isZero();
            assertThat(r.zrange(counter[0], 0, -1)).containsExactlyInAnyOrder("live:1", "other:1");
            live.release(counter, "live:1");
            store.release(counter, "other:1");
        } finally {
            live.close();
            dying.close();
        }
    }

    @Test
    void requestsThatArriveTogetherGoInFewCallsInOrderAndStayExact() throws Exception {
        String key = base() + "req";
        BucketSpec rpm50 = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM}, 50L);
        flushed(); // earlier tests' fire-and-forget calls (a release reads no bucket) are not counted below
        long evalsBefore = redis.calls("evalsha");
        long getsBefore = redis.calls("get");
        // 40 admits, 20 tokens given back, 60 more admits, all sent before any answer is read
        java.util.List<CompletableFuture<LimitStore.BucketResult>> first = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            first.add(store.consume(key, rpm50, 1, 1));
        }
        store.refund(key, rpm50, 1, 20);
        java.util.List<CompletableFuture<LimitStore.BucketResult>> second = new java.util.ArrayList<>();
        for (int i = 0; i < 60; i++) {
            second.add(store.consume(key, rpm50, 1, 1));
        }
        long admittedFirst = 0;
        for (var f : first) {
            admittedFirst += get(f).consumed() ? 1 : 0;
        }
        java.util.List<Long> left = new java.util.ArrayList<>();
        for (var f : second) {
            LimitStore.BucketResult b = get(f);
            if (b.consumed()) {
                left.add(b.available()[0]);
            }
        }
        // in order: the first 40 all pass (10 left), the refund makes it 30, then exactly 30 more pass
        assertThat(admittedFirst).isEqualTo(40);
        assertThat(left).hasSize(30);
        assertThat(left).as("each admitted request saw the one before it").isSortedAccordingTo(java.util.Comparator.reverseOrder())
                .doesNotHaveDuplicates().startsWith(29L).endsWith(0L);
        long evals = redis.calls("evalsha") - evalsBefore;
        long gets = redis.calls("get") - getsBefore;
        assertThat(evals).as("101 requests went in batches").isLessThan(101);
        assertThat(gets).as("a batch reads the bucket once").isEqualTo(evals);
    }

    @Test
    void concurrencySlotsTakenTogetherAreCountedExactly() throws Exception {
        String[] counter = {base() + "conc"};
        int[] five = {5};
        // 20 acquisitions, 2 releases, 4 more acquisitions, all sent before any answer is read
        java.util.List<CompletableFuture<Integer>> first = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
            first.add(store.acquire(counter, five, "burst:" + i));
        }
        store.release(counter, "burst:0");
        store.release(counter, "burst:1");
        java.util.List<CompletableFuture<Integer>> second = new java.util.ArrayList<>();
        for (int i = 20; i < 24; i++) {
            second.add(store.acquire(counter, five, "burst:" + i));
        }
        long held = 0;
        for (var f : first) {
            held += get(f) < 0 ? 1 : 0;
        }
        long more = 0;
        for (var f : second) {
            more += get(f) < 0 ? 1 : 0;
        }
        assertThat(held).isEqualTo(5);
        assertThat(more).as("the two released slots, no more").isEqualTo(2);
        assertThat(r.zrange(counter[0], 0, -1)).containsExactlyInAnyOrder("burst:2", "burst:3", "burst:4", "burst:20", "burst:21");
        assertThat(r.pttl(counter[0])).isPositive().isLessThanOrEqualTo(30_000);
    }

    @Test
    void slotsFreedAndTakenInOneCallKeepTheCountExact() throws Exception {
        String[] counter = {base() + "conc"};
        int[] two = {2};
        assertThat(get(store.acquire(counter, two, "a"))).isNegative();
        assertThat(get(store.acquire(counter, two, "b"))).isNegative();
        // one call on the way, so that what follows waits and goes together in the next: a slot
        // freed before the counter is counted, one taken, one refused, one taken and freed again
        CompletableFuture<Integer> ahead = store.acquire(new String[]{base() + "other"}, two, "x");
        store.release(counter, "a");
        CompletableFuture<Integer> c = store.acquire(counter, two, "c");
        CompletableFuture<Integer> d = store.acquire(counter, two, "d");
        store.release(counter, "c");
        CompletableFuture<Integer> e = store.acquire(counter, two, "e");
        CompletableFuture<Integer> f = store.acquire(counter, two, "f");
        assertThat(get(ahead)).isNegative();
        assertThat(get(c)).as("a's slot was freed first").isNegative();
        assertThat(get(d)).as("b and c hold both slots").isZero();
        assertThat(get(e)).as("c's slot was freed").isNegative();
        assertThat(get(f)).as("b and e hold both slots").isZero();
        assertThat(r.zrange(counter[0], 0, -1)).containsExactlyInAnyOrder("b", "e");
        assertThat(r.pttl(counter[0])).isPositive().isLessThanOrEqualTo(30_000);
    }

    @Test
    void aStoreThatCannotReachRedisFailsItsFutures() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        RedisURI nowhere = RedisURI.create("redis://127.0.0.1:" + port);
        RedisClient down = RedisClient.create(nowhere);
        RedisLimitStore dead = new RedisLimitStore(down, nowhere, new ClockTimeMeter(clock), clock, Duration.ofSeconds(30), Duration.ofSeconds(1));
        try {
            BucketSpec spec = spec(Window.Unit.REQUESTS, new Window[]{Window.RPM}, 10L);
            assertThat(dead.consume(base() + "req", spec, 1, 1)).failsWithin(Duration.ofSeconds(5));
            Admission a = admission(base(), LimitMode.ENFORCE, 10, 100, 5, 10, "x");
            assertThat(a.run(dead)).failsWithin(Duration.ofSeconds(5));
            a.undo(); // nothing held, nothing thrown
        } finally {
            dead.close();
            down.shutdown();
        }
    }
}
