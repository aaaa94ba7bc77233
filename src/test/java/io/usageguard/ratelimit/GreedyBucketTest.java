package io.usageguard.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import io.github.bucket4j.TokensInheritanceStrategy;
import io.github.bucket4j.VerboseResult;
import io.github.bucket4j.local.LocalBucket;
import org.junit.jupiter.api.Test;

/**
 * Differential test: {@link GreedyBucket} against bucket4j's local bucket, built the way the local
 * store built it before (greedy bandwidths with window ids, {@code replaceConfiguration(.., ADDITIVE)}),
 * on the same random sequences of operations and times. After every operation the results and the
 * whole state (tokens, last refill and rounding error of every window) must be equal.
 */
class GreedyBucketTest {

    static final Window[][] UNITS = {
            {Window.RPM, Window.RPH, Window.RPD},
            {Window.TPM, Window.TPD},
            {Window.IPM, Window.IPD},
    };

    static final class FakeTime implements TimeMeter {
        long nanos;

        @Override
        public long currentTimeNanos() {
            return nanos;
        }

        @Override
        public boolean isWallClockBased() {
            return true;
        }
    }

    /** The same bucket twice: bucket4j's and ours. */
    static final class Pair {
        final FakeTime time;
        LocalBucket bucket;
        BucketSpec spec;
        long[] state;
        long version;

        Pair(FakeTime time, BucketSpec spec) {
            this.time = time;
            this.spec = spec;
            var builder = Bucket.builder().withCustomTimePrecision(time);
            for (var b : spec.configuration().getBandwidths()) {
                builder.addLimit(b);
            }
            this.bucket = builder.build();
            this.state = new long[GreedyBucket.size(spec)];
            GreedyBucket.create(state, 0, spec, version, time.nanos);
        }

        LimitStore.BucketResult consume(long amount) {
            VerboseResult<ConsumptionProbe> r = bucket.asVerbose().tryConsumeAndReturnRemaining(amount);
            LimitStore.BucketResult theirs = new LimitStore.BucketResult(r.getValue().isConsumed(),
                    r.getDiagnostics().getAvailableTokensPerEachBandwidth(), r.getValue().getNanosToWaitForRefill());
            LimitStore.BucketResult ours = GreedyBucket.tryConsume(state, 0, spec, amount, time.nanos);
            assertThat(ours.consumed()).as("consumed %d", amount).isEqualTo(theirs.consumed());
            assertThat(ours.available()).as("available after consuming %d", amount).isEqualTo(theirs.available());
            assertThat(ours.nanosToWait()).as("nanos to wait for %d", amount).isEqualTo(theirs.nanosToWait());
            return ours;
        }

        void refund(long amount) {
            bucket.addTokens(amount);
            GreedyBucket.addTokens(state, 0, spec, amount, time.nanos);
        }

        void charge(long amount) {
            long theirs = bucket.tryConsumeAsMuchAsPossible(amount);
            assertThat(GreedyBucket.consumeAsMuchAsPossible(state, 0, spec, amount, time.nanos)).as("charged").isEqualTo(theirs);
        }

        void reconfigure(BucketSpec next) {
            version++;
            bucket.replaceConfiguration(next.configuration(), TokensInheritanceStrategy.ADDITIVE);
            long[] to = new long[GreedyBucket.size(next)];
            GreedyBucket.reconfigure(state, 0, spec, to, 0, next, version, time.nanos);
            state = to;
            spec = next;
            assertThat(GreedyBucket.version(state, 0)).isEqualTo(version);
        }

        void check(String step) {
            assertThat(GreedyBucket.available(state, 0, spec, time.nanos)).as(step + ": available")
                    .isEqualTo(bucket.asVerbose().getAvailableTokens().getDiagnostics().getAvailableTokensPerEachBandwidth());
            long[] theirs = bucket4jState(bucket);
            long[] ours = new long[theirs.length];
            for (int j = 0; j < theirs.length / 3; j++) {
                // bucket4j keeps last refill, tokens, rounding error; we keep tokens, last refill, rounding error
                ours[3 * j] = state[1 + 3 * j + 1];
                ours[3 * j + 1] = state[1 + 3 * j];
                ours[3 * j + 2] = state[1 + 3 * j + 2];
            }
            assertThat(ours).as(step + ": state").isEqualTo(theirs);
        }
    }

    static long[] bucket4jState(LocalBucket bucket) {
        try {
            Field ref = bucket.getClass().getDeclaredField("stateRef");
            ref.setAccessible(true);
            Object state = ((AtomicReference<?>) ref.get(bucket)).get();
            Field data = state.getClass().getDeclaredField("stateData");
            data.setAccessible(true);
            return (long[]) data.get(state);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    static BucketSpec spec(SplittableRandom r, Window[] unit, long scale) {
        Long[] limits = new Long[unit.length];
        boolean any = false;
        for (int i = 0; i < unit.length; i++) {
            if (r.nextInt(3) > 0) {
                limits[i] = 1 + r.nextLong(scale);
                any = true;
            }
        }
        if (!any) {
            limits[r.nextInt(unit.length)] = 1 + r.nextLong(scale);
        }
        return BucketSpec.of(Scope.ACCOUNT, unit[0].unit(), unit, limits);
    }

    static long scale(SplittableRandom r) {
        return switch (r.nextInt(5)) {
            case 0 -> 5;
            case 1 -> 100;
            case 2 -> 100_000;
            case 3 -> 50_000_000L; // tokens per day: the refill product overflows, bucket4j turns to doubles
            default -> 60_000_000_000L; // bucket4j allows at most one token per nanosecond
        };
    }

    static long step(SplittableRandom r) {
        return switch (r.nextInt(9)) {
            case 0 -> 0;
            case 1 -> r.nextLong(1_000);
            case 2 -> r.nextLong(1_000_000_000L);
            case 3 -> r.nextLong(60_000_000_000L);
            case 4 -> r.nextLong(3_600_000_000_000L);
            case 5 -> r.nextLong(90_000_000_000_000L);
            case 6 -> -r.nextLong(5_000_000_000L); // the wall clock stepped back
            case 7 -> 1;
            default -> r.nextLong(2_000_000_000L);
        };
    }

    static long amount(SplittableRandom r, long cap) {
        return switch (r.nextInt(4)) {
            case 0 -> 1;
            case 1 -> 1 + r.nextLong(Math.max(1, cap / 4));
            case 2 -> 1 + r.nextLong(Math.max(1, cap + cap / 5));
            default -> 1 + r.nextLong(Math.max(1, Math.min(cap, 10)));
        };
    }

    @Test
    void randomSequencesGiveBucket4jsResultsAndState() {
        SplittableRandom seeds = new SplittableRandom(20261123L);
        int refused = 0;
        int reconfigured = 0;
        for (int run = 0; run < 3_000; run++) {
            long seed = seeds.nextLong();
            SplittableRandom r = new SplittableRandom(seed);
            Window[] unit = UNITS[r.nextInt(UNITS.length)];
            long scale = scale(r);
            FakeTime time = new FakeTime();
            time.nanos = 1_700_000_000_000_000_000L + r.nextLong(1_000_000_000_000L);
            Pair p = new Pair(time, spec(r, unit, scale));
            p.check("seed " + seed + " created");
            for (int op = 0; op < 60; op++) {
                time.nanos += step(r);
                long cap = p.spec.minCapacity();
                String step = "seed " + seed + " op " + op;
                switch (r.nextInt(10)) {
                    case 0, 1, 2, 3, 4 -> {
                        if (!p.consume(amount(r, cap)).consumed()) {
                            refused++;
                        }
                    }
                    case 5, 6 -> p.refund(amount(r, cap));
                    case 7 -> p.charge(amount(r, cap));
                    case 8 -> {
                        p.reconfigure(r.nextBoolean() ? spec(r, unit, scale) : spec(r, unit, scale(r)));
                        reconfigured++;
                    }
                    default -> {
                        // only time passes
                    }
                }
                p.check(step);
            }
        }
        assertThat(refused).as("refusals exercised").isGreaterThan(10_000);
        assertThat(reconfigured).as("reconfigurations exercised").isGreaterThan(10_000);
    }

    @Test
    void aRaisedLimitKeepsWhatWasUsedAndALoweredOneCapsWhatIsLeft() {
        FakeTime time = new FakeTime();
        time.nanos = 1_000_000_000_000L;
        Pair p = new Pair(time, BucketSpec.of(Scope.ACCOUNT, Window.Unit.REQUESTS, UNITS[0], new Long[]{2L, null, 10L}));
        assertThat(p.consume(1).consumed()).isTrue();
        assertThat(p.consume(1).consumed()).isTrue();
        LimitStore.BucketResult refused = p.consume(1);
        assertThat(refused.consumed()).isFalse();
        assertThat(refused.nanosToWait()).isEqualTo(Duration.ofSeconds(30).toNanos());
        // RPM 2 → 4, RPH added: 2 of 4 left, the new hour window full
        p.reconfigure(BucketSpec.of(Scope.ACCOUNT, Window.Unit.REQUESTS, UNITS[0], new Long[]{4L, 100L, 10L}));
        assertThat(GreedyBucket.available(p.state, 0, p.spec, time.nanos)).containsExactly(2, 100, 8);
        p.check("raised");
        // RPD 10 → 5: what is left (8) is capped at 5
        p.reconfigure(BucketSpec.of(Scope.ACCOUNT, Window.Unit.REQUESTS, UNITS[0], new Long[]{4L, 100L, 5L}));
        assertThat(GreedyBucket.available(p.state, 0, p.spec, time.nanos)).containsExactly(2, 100, 5);
        p.check("lowered");
    }

    @Test
    void aRefusalTakesNothingAndKeepsNoRefill() {
        FakeTime time = new FakeTime();
        time.nanos = 5_000_000_000L;
        BucketSpec spec = BucketSpec.of(Scope.ACCOUNT, Window.Unit.TOKENS, UNITS[1], new Long[]{1000L, 5_000_000L});
        long[] s = new long[GreedyBucket.size(spec)];
        GreedyBucket.create(s, 0, spec, 7, time.nanos);
        assertThat(GreedyBucket.tryConsume(s, 0, spec, 900, time.nanos).available()).containsExactly(100, 4_999_100);
        long[] before = s.clone();
        time.nanos += 1_000_000;
        LimitStore.BucketResult r = GreedyBucket.tryConsume(s, 0, spec, 500, time.nanos);
        assertThat(r.consumed()).isFalse();
        assertThat(r.available()).containsExactly(100, 4_999_100);
        assertThat(s).isEqualTo(before);
        assertThatThrownBy(() -> GreedyBucket.tryConsume(s, 0, spec, 0, time.nanos)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void bucketsLiveSideBySideInOneArray() {
        FakeTime time = new FakeTime();
        time.nanos = 42;
        List<BucketSpec> specs = new ArrayList<>();
        specs.add(BucketSpec.of(Scope.KEY, Window.Unit.REQUESTS, new Window[]{Window.RPM}, new Long[]{3L}));
        specs.add(BucketSpec.of(Scope.KEY, Window.Unit.TOKENS, new Window[]{Window.TPM}, new Long[]{1000L}));
        long[] s = new long[GreedyBucket.size(specs.get(0)) + GreedyBucket.size(specs.get(1))];
        int second = GreedyBucket.size(specs.get(0));
        GreedyBucket.create(s, 0, specs.get(0), 1, time.nanos);
        GreedyBucket.create(s, second, specs.get(1), 1, time.nanos);
        GreedyBucket.tryConsume(s, 0, specs.get(0), 2, time.nanos);
        GreedyBucket.tryConsume(s, second, specs.get(1), 600, time.nanos);
        assertThat(GreedyBucket.available(s, 0, specs.get(0), time.nanos)).containsExactly(1);
        assertThat(GreedyBucket.available(s, second, specs.get(1), time.nanos)).containsExactly(400);
        assertThat(s.length).isEqualTo(8);
    }
}
