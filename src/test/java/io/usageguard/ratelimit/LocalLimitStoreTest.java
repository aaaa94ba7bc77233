package io.usageguard.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import com.github.benmanes.caffeine.cache.Cache;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TokensInheritanceStrategy;
import io.github.bucket4j.VerboseResult;
import io.github.bucket4j.local.LocalBucket;
import org.junit.jupiter.api.Test;

/**
 * The local store against the store it replaced (one bucket4j bucket per storage key, re-configured
 * when a request comes with a newer configuration version), on random requests of several scopes,
 * units and configuration versions — including requests planned under an older version that arrive
 * after a newer one, and a scope whose limits change without a new version (another tier).
 */
class LocalLimitStoreTest {

    /** The previous local store: a bucket4j lock-free bucket per key, with its configuration version. */
    static final class Bucket4jStore {
        final GreedyBucketTest.FakeTime time;
        final Map<String, LocalBucket> buckets = new HashMap<>();
        final Map<String, Long> versions = new HashMap<>();

        Bucket4jStore(GreedyBucketTest.FakeTime time) {
            this.time = time;
        }

        LocalBucket bucket(String key, BucketSpec spec, long version) {
            LocalBucket b = buckets.computeIfAbsent(key, k -> {
                var builder = Bucket.builder().withCustomTimePrecision(time);
                for (var bw : spec.configuration().getBandwidths()) {
                    builder.addLimit(bw);
                }
                versions.put(k, version);
                return builder.build();
            });
            if (versions.get(key) < version) {
                b.replaceConfiguration(spec.configuration(), TokensInheritanceStrategy.ADDITIVE);
                versions.put(key, version);
            }
            return b;
        }

        LimitStore.BucketResult consume(String key, BucketSpec spec, long version, long amount) {
            VerboseResult<ConsumptionProbe> r = bucket(key, spec, version).asVerbose().tryConsumeAndReturnRemaining(amount);
            return new LimitStore.BucketResult(r.getValue().isConsumed(), r.getDiagnostics().getAvailableTokensPerEachBandwidth(),
                    r.getValue().getNanosToWaitForRefill());
        }

        long[] available(String key) {
            LocalBucket b = buckets.get(key);
            return b == null ? null : b.asVerbose().getAvailableTokens().getDiagnostics().getAvailableTokensPerEachBandwidth();
        }
    }

    static final String[] SCOPES = {"ug:rl:{acct-1}:m:", "ug:rl:{acct-1}:m:k:key_1:", "ug:rl:{acct-2}:m:", "ug:rl:{m:m}:", "odd"};

    /** Per version: a spec per unit; and for version 2 a second set with other limits (another tier, same version). */
    static BucketSpec[] specs(SplittableRandom r) {
        BucketSpec[] s = new BucketSpec[3];
        for (int u = 0; u < 3; u++) {
            s[u] = GreedyBucketTest.spec(r, GreedyBucketTest.UNITS[u], u == 1 ? 100_000 : 20);
        }
        return s;
    }

    @Test
    void behavesAsOneBucket4jBucketPerKey() {
        SplittableRandom seeds = new SplittableRandom(7);
        int refused = 0;
        for (int run = 0; run < 150; run++) {
            long seed = seeds.nextLong();
            SplittableRandom r = new SplittableRandom(seed);
            GreedyBucketTest.FakeTime time = new GreedyBucketTest.FakeTime();
            time.nanos = 1_800_000_000_000_000_000L;
            LocalLimitStore ours = new LocalLimitStore(time, 1_000);
            Bucket4jStore theirs = new Bucket4jStore(time);
            List<BucketSpec[]> versions = new ArrayList<>();
            versions.add(specs(r));
            BucketSpec[] otherTier = specs(r);
            List<String> keys = new ArrayList<>();
            for (int op = 0; op < 200; op++) {
                time.nanos += GreedyBucketTest.step(r);
                if (r.nextInt(25) == 0) {
                    versions.add(specs(r));
                }
                int v = versions.size() - 1 - (r.nextInt(6) == 0 ? r.nextInt(versions.size()) : 0);
                int unit = r.nextInt(3);
                BucketSpec spec = r.nextInt(8) == 0 ? otherTier[unit] : versions.get(v)[unit];
                String scope = SCOPES[r.nextInt(SCOPES.length)];
                String key = scope.equals("odd") ? "odd-" + unit : scope + spec.unit().suffix;
                if (!keys.contains(key)) {
                    keys.add(key);
                }
                long amount = GreedyBucketTest.amount(r, spec.minCapacity());
                String step = "seed " + seed + " op " + op + " " + key + " v" + v;
                switch (r.nextInt(4)) {
                    case 0, 1 -> {
                        LimitStore.BucketResult expected = theirs.consume(key, spec, v, amount);
                        LimitStore.BucketResult actual = ours.consume(key, spec, v, amount).join();
                        assertThat(actual.consumed()).as(step).isEqualTo(expected.consumed());
                        assertThat(actual.available()).as(step).isEqualTo(expected.available());
                        assertThat(actual.nanosToWait()).as(step).isEqualTo(expected.nanosToWait());
                        if (!actual.consumed()) {
                            refused++;
                        }
                    }
                    case 2 -> {
                        theirs.bucket(key, spec, v).addTokens(amount);
                        ours.refund(key, spec, v, amount);
                    }
                    default -> {
                        theirs.bucket(key, spec, v).tryConsumeAsMuchAsPossible(amount);
                        ours.charge(key, spec, v, amount);
                    }
                }
                for (String k : keys) {
                    assertThat(ours.available(k)).as(step + ": " + k).isEqualTo(theirs.available(k));
                }
                assertThat(ours.keys()).as(step).containsExactlyInAnyOrderElementsOf(keys);
            }
        }
        assertThat(refused).isGreaterThan(500);
    }

    @Test
    void oneEntryPerScopeHoldsItsRequestTokenAndImageBuckets() throws Exception {
        GreedyBucketTest.FakeTime time = new GreedyBucketTest.FakeTime();
        LocalLimitStore store = new LocalLimitStore(time, 1_000);
        BucketSpec rpm = BucketSpec.of(Scope.ACCOUNT, Window.Unit.REQUESTS, GreedyBucketTest.UNITS[0], new Long[]{5L, null, null});
        BucketSpec tpd = BucketSpec.of(Scope.ACCOUNT, Window.Unit.TOKENS, GreedyBucketTest.UNITS[1], new Long[]{null, 1000L});
        BucketSpec keyRpm = BucketSpec.of(Scope.KEY, Window.Unit.REQUESTS, new Window[]{Window.RPM}, new Long[]{2L});
        String account = "ug:rl:{acct}:m:";
        String key = account + "k:key_1:";
        assertThat(store.consume(account + "req", rpm, 1, 1).join().available()).containsExactly(4);
        assertThat(store.consume(account + "tok", tpd, 1, 300).join().available()).containsExactly(700);
        assertThat(store.consume(key + "req", keyRpm, 1, 1).join().available()).containsExactly(1);
        assertThat(store.keys()).containsExactlyInAnyOrder(account + "req", account + "tok", key + "req");

        @SuppressWarnings("unchecked")
        Cache<Object, Object> cache = (Cache<Object, Object>) cache(store);
        assertThat(cache.asMap().keySet()).containsExactlyInAnyOrder("ug:rl:{acct}:m", "ug:rl:{acct}:m:k:key_1");
        // the entry was created by its per-minute bucket; its per-day bucket, added after, keeps it a day
        var expiry = cache.policy().expireVariably().orElseThrow();
        assertThat(expiry.getExpiresAfter("ug:rl:{acct}:m").orElseThrow()).isGreaterThan(Duration.ofHours(24));
        assertThat(expiry.getExpiresAfter("ug:rl:{acct}:m:k:key_1").orElseThrow()).isLessThanOrEqualTo(Duration.ofMinutes(2));
    }

    static Cache<?, ?> cache(LocalLimitStore store) throws Exception {
        Field f = LocalLimitStore.class.getDeclaredField("buckets");
        f.setAccessible(true);
        return (Cache<?, ?>) f.get(store);
    }
}
