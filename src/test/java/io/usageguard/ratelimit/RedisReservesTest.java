package io.usageguard.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.usageguard.testsupport.MutableClock;
import io.usageguard.testsupport.PrivateRedis;
import io.usageguard.usage.TokenUsage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a replica takes from Redis ahead of need ({@link RedisReserves}), against a redis-server this
 * test starts, on a fake clock: a busy account is admitted with far fewer script calls than requests
 * and nothing is lost or made up (Redis's count plus the reserve is the limit minus what was used);
 * two replicas together never pass a limit, and what one does not use goes back to the other; a
 * refused request gives back what it took from a reserve; reserved concurrency slots are counted in
 * Redis and freed when idle; small limits are never taken ahead.
 */
class RedisReservesTest {

    static PrivateRedis redis;
    static RedisURI uri;
    static RedisClient client;
    static StatefulRedisConnection<String, String> conn;
    static RedisCommands<String, String> r;
    static final MutableClock clock = new MutableClock();
    static final String prefix = "ugreserve-" + UUID.randomUUID().toString().substring(0, 8) + ":rl:";
    static final AtomicInteger accounts = new AtomicInteger();
    final List<RedisLimitStore> stores = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        redis = PrivateRedis.start();
        uri = RedisURI.create(redis.url());
        client = RedisClient.create(uri);
        conn = client.connect();
        r = conn.sync();
    }

    @AfterAll
    static void stop() {
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

    @AfterEach
    void closeStores() {
        stores.forEach(RedisLimitStore::close);
    }

    /** A replica's store taking up to {@code share} of a limit ahead, for 100 ms of its traffic. */
    RedisLimitStore replica(double share) throws Exception {
        RedisLimitStore s = new RedisLimitStore(client, uri, new ClockTimeMeter(clock), clock, Duration.ofSeconds(30),
                Duration.ofSeconds(1), share, Duration.ofMillis(100));
        stores.add(s);
        RateLimitTestSupport.awaitConnected(s, prefix + "probe");
        return s;
    }

    /**
     * Daily windows only, so that the fake clock's steps refill nothing (30 000 a day is 0.35 a
     * second; no test here moves it more than 2.2 s): every count below is exact.
     */
    static ResolvedLimits daily(long rpd, long tpd, Integer concurrency) {
        return ResolvedLimits.merge("T", LimitMode.ENFORCE, 1,
                new LimitSet(null, null, rpd, null, tpd, null, null, concurrency, null, null), null, null);
    }

    static String base() {
        return prefix + "{acct-" + accounts.incrementAndGet() + "}:m:";
    }

    /** An admission as the filter plans it: the account's requests and tokens, and its concurrency counter. */
    static Admission admission(ResolvedLimits limits, String base, long tokens) {
        List<Admission.Use> uses = new ArrayList<>();
        uses.add(new Admission.Use(limits.specs()[0], base + "req", 1));
        uses.add(new Admission.Use(limits.specs()[1], base + "tok", tokens));
        Admission.LeaseGroup[] groups = limits.accountConcurrency() >= 0
                ? new Admission.LeaseGroup[]{new Admission.LeaseGroup(new String[]{base + "conc"},
                new int[]{limits.accountConcurrency()}, new Scope[]{Scope.ACCOUNT})}
                : new Admission.LeaseGroup[0];
        return new Admission(limits, 1.0, "m", tokens, 0, uses.toArray(Admission.Use[]::new), groups,
                "lease-" + UUID.randomUUID());
    }

    static Admission admit(RedisLimitStore store, ResolvedLimits limits, String base, long tokens) throws Exception {
        Admission a = admission(limits, base, tokens);
        a.run(store).get(5, TimeUnit.SECONDS);
        if (a.refused()) {
            a.undo();
        }
        return a;
    }

    /** What Redis's bucket holds now (a probe that takes nothing: an amount of 0 is never asked, so ask for 1 and give it back). */
    long inRedis(RedisLimitStore store, ResolvedLimits limits, String key, int spec) throws Exception {
        LimitStore.BucketResult res = store.consume(key, limits.specs()[spec], 1, 1).get(5, TimeUnit.SECONDS);
        if (res.consumed()) {
            store.refund(key, limits.specs()[spec], 1, 1);
            return res.available()[0] + 1;
        }
        return res.available()[0];
    }

    static long reserved(RedisLimitStore store, String key) {
        RedisReserves.Bucket b = store.reserves.buckets.get(key);
        return b == null ? 0 : b.tokens();
    }

    /** Waits until every call this store queued has been answered (fire-and-forget ones included). */
    static void flushed(RedisLimitStore store) throws Exception {
        BucketSpec probe = BucketSpec.of(Scope.ACCOUNT, Window.Unit.REQUESTS, new Window[]{Window.RPM}, new Long[]{10L});
        store.consume(prefix + "probe", probe, 1, 1).get(5, TimeUnit.SECONDS);
    }

    @Test
    void aBusyAccountIsAdmittedFromItsReservesWithFewCallsAndNothingIsLostOrMadeUp() throws Exception {
        RedisLimitStore store = replica(0.5);
        ResolvedLimits limits = daily(30_000, 30_000, 1000);
        String base = base();
        long before = redis.calls("evalsha") + redis.calls("eval");
        int n = 2000;
        int fromReserve = 0;
        for (int i = 0; i < n; i++) {
            Admission a = admit(store, limits, base, 10);
            assertThat(a.refused()).isFalse();
            if (a.uses[0].reserved) {
                fromReserve++;
            }
            // the backend used 4 tokens of the 10 reserved: 6 come back (to the reserve when taken from it)
            a.finish(new TokenUsage(2, 2, true), true);
        }
        flushed(store);
        long calls = redis.calls("evalsha") + redis.calls("eval") - before;
        assertThat(fromReserve).as("requests admitted from the reserve").isGreaterThan(n * 9 / 10);
        assertThat(calls).as("script calls for %d requests", n).isLessThan(n / 10);
        // nothing lost, nothing made up: Redis's count plus what this replica holds is the limit minus the use
        assertThat(inRedis(store, limits, base + "req", 0) + reserved(store, base + "req")).isEqualTo(30_000 - n);
        assertThat(inRedis(store, limits, base + "tok", 1) + reserved(store, base + "tok")).isEqualTo(30_000 - 4L * n);
        assertThat(reserved(store, base + "req")).as("held ahead, at most half the limit").isPositive().isLessThanOrEqualTo(15_000);
        assertThat(r.zcard(base + "conc")).as("reserved slots are counted in Redis")
                .isEqualTo(store.reserves.pools.values().iterator().next().size()).isPositive();

        // unused for a second: the tokens go back; the slots free all that period go back at the next period's end
        clock.advance(Duration.ofMillis(1100));
        store.upkeep();
        clock.advance(Duration.ofMillis(1100));
        store.upkeep();
        flushed(store);
        assertThat(reserved(store, base + "req")).isZero();
        assertThat(inRedis(store, limits, base + "req", 0)).isEqualTo(30_000 - n);
        assertThat(inRedis(store, limits, base + "tok", 1)).isEqualTo(30_000 - 4L * n);
        assertThat(r.zcard(base + "conc")).as("idle slots freed").isZero();
    }

    @Test
    void twoReplicasNeverPassALimitAndWhatOneDoesNotUseGoesBackToTheOther() throws Exception {
        RedisLimitStore a = replica(0.5);
        RedisLimitStore b = replica(0.5);
        ResolvedLimits limits = daily(400, 30_000, null);
        String base = base();
        // B serves 50 requests and takes some ahead (at most 200, half the limit)
        serve(b, limits, base, 50);
        flushed(b);
        long heldByB = reserved(b, base + "req");
        assertThat(heldByB).isBetween(1L, 200L);
        // A alone until refused: it gets everything but what B holds
        int byA = untilRefused(a, limits, base);
        assertThat(50 + byA + heldByB).as("never more than the limit; B's reserve is not A's").isEqualTo(400);
        // B goes quiet: after a second its reserve goes back, and A gets exactly that
        clock.advance(Duration.ofMillis(1100));
        b.upkeep();
        flushed(b);
        assertThat(reserved(b, base + "req")).isZero();
        assertThat(untilRefused(a, limits, base)).isEqualTo(heldByB);
    }

    /** Serves {@code n} requests of 1 token, each of which must be admitted, each reporting 1 token used. */
    static void serve(RedisLimitStore store, ResolvedLimits limits, String base, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            Admission x = admit(store, limits, base, 1);
            assertThat(x.refused()).isFalse();
            x.finish(new TokenUsage(0, 1, true), true);
        }
    }

    /** Admits on one replica until Redis refuses and its reserve is empty; how many were admitted. */
    static int untilRefused(RedisLimitStore store, ResolvedLimits limits, String base) throws Exception {
        int admitted = 0;
        for (int i = 0; i < 2000; i++) {
            Admission x = admit(store, limits, base, 1);
            if (x.refused()) {
                flushed(store);
                if (reserved(store, base + "req") == 0) {
                    return admitted;
                }
                continue;
            }
            admitted++;
            x.finish(new TokenUsage(0, 1, true), true);
        }
        throw new AssertionError("never refused");
    }

    @Test
    void aRefusedRequestGivesBackWhatItTookFromAReserve() throws Exception {
        RedisLimitStore store = replica(0.5);
        // requests: plenty, taken ahead; tokens: 100 a day, so after 50 used no request of 60
        ResolvedLimits limits = daily(30_000, 100, null);
        String base = base();
        serve(store, limits, base, 50);
        Admission big = admit(store, limits, base, 60);
        assertThat(big.refused()).as("60 tokens of at most 50 left").isTrue();
        assertThat(big.rejection().code()).isEqualTo(io.usageguard.core.ErrorCode.QUOTA_EXCEEDED);
        assertThat(big.uses[0].reserved).as("its request came from the reserve").isTrue();
        assertThat(big.uses[0].consumed()).as("and went back").isFalse();
        flushed(store);
        assertThat(inRedis(store, limits, base + "req", 0) + reserved(store, base + "req"))
                .as("only the 50 admitted requests are counted").isEqualTo(30_000 - 50);
    }

    @Test
    void aReloadGivesTheOldReserveBackAndTheCountCarriesOver() throws Exception {
        RedisLimitStore store = replica(0.5);
        ResolvedLimits before = daily(30_000, 30_000, null);
        String base = base();
        for (int i = 0; i < 500; i++) {
            admit(store, before, base, 1).finish(new TokenUsage(0, 1, true), true);
        }
        flushed(store);
        assertThat(reserved(store, base + "req")).isPositive();
        // version 2 raises the daily limit to 40 000: the 500 used stay used (bucket4j's additive inheritance)
        ResolvedLimits after = ResolvedLimits.merge("T", LimitMode.ENFORCE, 2,
                new LimitSet(null, null, 40_000L, null, 30_000L, null, null, null, null, null), null, null);
        Admission first = admit(store, after, base, 1);
        assertThat(first.refused()).isFalse();
        assertThat(first.uses[0].reserved).as("the old reserve is not used under the new configuration").isFalse();
        first.finish(new TokenUsage(0, 1, true), true);
        flushed(store);
        RedisReserves.Bucket now = store.reserves.buckets.get(base + "req");
        assertThat(now == null || now.version == 2).isTrue();
        assertThat(inRedis(store, after, base + "req", 0) + reserved(store, base + "req")).isEqualTo(40_000 - 501);
    }

    @Test
    void smallLimitsAreNeverTakenAhead() throws Exception {
        RedisLimitStore store = replica(0.01);
        // 1 % of 60 requests and of 5 slots is less than one: every request is asked of Redis, as without reserves
        ResolvedLimits limits = ResolvedLimits.merge("T", LimitMode.ENFORCE, 1,
                new LimitSet(60L, null, null, null, 100_000L, null, null, 5, null, null), null, null);
        String base = base();
        long before = redis.calls("evalsha") + redis.calls("eval");
        for (int i = 0; i < 60; i++) {
            Admission x = admit(store, limits, base, 1);
            assertThat(x.refused()).isFalse();
            assertThat(x.uses[0].reserved).isFalse();
            assertThat(x.groups[0].pooled).isNull();
            x.finish(new TokenUsage(0, 1, true), true);
        }
        flushed(store);
        assertThat(admit(store, limits, base, 1).refused()).as("the 61st in the minute").isTrue();
        assertThat(store.reserves.pools).isEmpty();
        assertThat(redis.calls("evalsha") + redis.calls("eval") - before).as("an admission and a settlement each")
                .isGreaterThanOrEqualTo(60);
    }

    @Test
    void reservedSlotsCountInRedisSoTwoReplicasNeverHoldMoreThanTheLimit() throws Exception {
        RedisLimitStore a = replica(0.5);
        RedisLimitStore b = replica(0.5);
        ResolvedLimits limits = daily(30_000, 30_000, 10);
        String base = base();
        // A: requests that come and go, so it builds up a pool of slots (at most 5: half of 10)
        for (int i = 0; i < 40; i++) {
            Admission x = admit(a, limits, base, 1);
            Admission y = admit(a, limits, base, 1);
            assertThat(x.refused() || y.refused()).isFalse();
            x.finish(new TokenUsage(0, 1, true), true);
            y.finish(new TokenUsage(0, 1, true), true);
        }
        flushed(a);
        int pooled = a.reserves.pools.values().iterator().next().size();
        assertThat(pooled).isBetween(1, 5);
        assertThat(r.zcard(base + "conc")).isEqualTo(pooled);
        // B holds requests open until refused: the slots A holds are not B's (nor are B's own free ones)
        List<Admission> open = new ArrayList<>();
        holdOpenUntilRefused(b, limits, base, open);
        assertThat(r.zcard(base + "conc")).as("never more than the limit").isEqualTo(10);
        assertThat(open.size() + pooled + free(b)).isEqualTo(10);
        // A goes quiet: after a whole idle period its free slots go back, and B can have them
        clock.advance(Duration.ofMillis(1100));
        a.upkeep();
        clock.advance(Duration.ofMillis(1100));
        a.upkeep();
        flushed(a);
        assertThat(r.zcard(base + "conc")).isEqualTo(open.size() + free(b));
        int before = open.size();
        holdOpenUntilRefused(b, limits, base, open);
        assertThat(open.size()).isGreaterThan(before);
        assertThat(open.size() + free(b)).isEqualTo(10);
        assertThat(r.zcard(base + "conc")).isEqualTo(10);
        open.forEach(x -> x.finish(new TokenUsage(0, 1, true), true));
    }

    static void holdOpenUntilRefused(RedisLimitStore store, ResolvedLimits limits, String base, List<Admission> open)
            throws Exception {
        for (int i = 0; i < 40; i++) {
            Admission x = admit(store, limits, base, 1);
            if (x.refused()) {
                assertThat(x.rejection().code()).isEqualTo(io.usageguard.core.ErrorCode.CONCURRENCY_LIMIT_EXCEEDED);
                flushed(store);
                if (free(store) == 0) {
                    return;
                }
                continue;
            }
            open.add(x);
        }
        throw new AssertionError("never refused");
    }

    static int free(RedisLimitStore store) {
        return store.reserves.pools.values().stream().mapToInt(RedisReserves.Pool::free).sum();
    }
}
