package io.usageguard.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.usageguard.testsupport.Http;
import io.usageguard.testsupport.MutableClock;
import io.usageguard.testsupport.PrivateRedis;
import io.usageguard.usage.TokenUsage;
import org.junit.jupiter.api.Test;

/**
 * Redis's own time per operation of the limit script, by how many operations arrive together:
 * bursts of B requests of one account and key (their admissions sent together, then their settles,
 * as under load), each with the buckets of bench/guard.yml's tier (account: three request windows
 * and two token windows; key: one of each) and two concurrency counters. Reports EVALSHA calls and
 * microseconds of Redis time (INFO commandstats, inner commands included) per operation. Redis's
 * time does not depend on the JVM sharing the machine, so two builds compare run against run.
 * Not part of the test suite (its name ends in Bench); run with
 * {@code ./mvnw -q test -Dtest=RedisScriptBench -Dsurefire.failIfNoSpecifiedTests=false} and read
 * {@code target/surefire-reports/io.usageguard.ratelimit.RedisScriptBench-output.txt}.
 */
class RedisScriptBench {

    static final int ROUNDS = 400;

    @Test
    void redisTimePerOperation() throws Exception {
        PrivateRedis redis = PrivateRedis.start();
        RedisURI uri = RedisURI.create(redis.url());
        RedisClient client = RedisClient.create(uri);
        MutableClock clock = new MutableClock();
        RedisLimitStore store = null;
        try {
            store = new RedisLimitStore(client, uri, new ClockTimeMeter(clock), clock, Duration.ofSeconds(30), Duration.ofSeconds(1));
            ResolvedLimits limits = ResolvedLimits.merge("L1", LimitMode.ENFORCE, 1,
                    new LimitSet(1_000_000_000L, 1_000_000_000L, 1_000_000_000L, 10_000_000_000L, 1_000_000_000_000L,
                            null, null, 100_000, new LimitSet.PerKey(1_000_000_000L, 10_000_000_000L, 100_000), null),
                    null, null);
            RedisLimitStore s = store;
            Http.await(Duration.ofSeconds(20), "store connected", () -> {
                try {
                    burst(s, limits, 1, 0);
                    return true;
                } catch (Exception e) {
                    return false;
                }
            });
            System.out.printf("Redis limit script, bursts of B requests (admissions together, then settles, then one more), %d rounds each%n", ROUNDS);
            System.out.printf("%4s %14s %14s %18s%n", "B", "calls/op", "µs/op", "µs/request (2 ops)");
            long lease = 0;
            for (int b : new int[]{1, 2, 4, 8, 16}) {
                for (int i = 0; i < ROUNDS / 4; i++) { // warm-up
                    lease = burst(store, limits, b, lease);
                }
                long[] before = redis.commandStats().getOrDefault("evalsha", new long[2]);
                for (int i = 0; i < ROUNDS; i++) {
                    lease = burst(store, limits, b, lease);
                }
                long[] after = redis.commandStats().getOrDefault("evalsha", new long[2]);
                double ops = 2.0 * ROUNDS * (b + 1); // and the admission behind the settles, and its settle
                System.out.printf("%4d %14.3f %14.1f %18.1f%n", b, (after[0] - before[0]) / ops,
                        (after[1] - before[1]) / ops, 2 * (after[1] - before[1]) / ops);
            }
        } finally {
            if (store != null) {
                store.close();
            }
            client.shutdown();
            redis.close();
        }
    }

    /** B admissions sent together, then their B settles; waits until Redis has done all of them. */
    private static long burst(RedisLimitStore store, ResolvedLimits limits, int b, long lease) throws Exception {
        List<Admission> admissions = new ArrayList<>(b);
        List<CompletableFuture<Void>> answers = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            Admission a = admission(limits, ++lease);
            admissions.add(a);
            answers.add(a.run(store));
        }
        for (CompletableFuture<Void> f : answers) {
            f.get(5, TimeUnit.SECONDS);
        }
        for (Admission a : admissions) {
            assertThat(a.refused()).isFalse();
            a.finish(new TokenUsage(20, 13, true), true);
        }
        // settles are fire-and-forget: one more admission behind them waits for them all
        Admission last = admission(limits, ++lease);
        last.run(store).get(5, TimeUnit.SECONDS);
        last.finish(new TokenUsage(20, 13, true), true);
        return lease;
    }

    private static Admission admission(ResolvedLimits limits, long lease) {
        BucketSpec[] specs = limits.specs();
        String account = "bench:{acct}:m:";
        String key = account + "k:key1:";
        List<Admission.Use> uses = new ArrayList<>();
        for (BucketSpec spec : specs) {
            String name = (spec.scope() == Scope.KEY ? key : account) + (spec.unit() == Window.Unit.REQUESTS ? "req" : "tok");
            uses.add(new Admission.Use(spec, name, spec.unit() == Window.Unit.REQUESTS ? 1 : 25));
        }
        Admission.LeaseGroup[] groups = {new Admission.LeaseGroup(new String[]{account + "conc", key + "conc"},
                new int[]{100_000, 100_000}, new Scope[]{Scope.ACCOUNT, Scope.KEY})};
        return new Admission(limits, 1.0, "m", 25, 0, uses.toArray(Admission.Use[]::new), groups, "bench:" + lease);
    }
}
