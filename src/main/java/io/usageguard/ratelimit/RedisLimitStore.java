package io.usageguard.ratelimit;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import io.github.bucket4j.TokensInheritanceStrategy;
import io.github.bucket4j.VerboseResult;
import io.github.bucket4j.distributed.AsyncBucketProxy;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.distributed.proxy.AsyncProxyManager;
import io.github.bucket4j.distributed.proxy.optimization.Optimizations;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.ZAddArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Buckets and concurrency counters shared by every replica through Redis.
 * <ul>
 *   <li>Buckets: bucket4j's Lettuce proxy manager (compare-and-swap: a GET and a Lua CAS per
 *       operation), with the batching optimisation, so concurrent requests on one bucket in this
 *       replica share one CAS. Exact: no over-admission. Every bucket key has a TTL of the time it
 *       needs to refill completely plus a minute (a full bucket is the same as no key).</li>
 *   <li>Concurrency: a sorted set per counter of lease ids scored by their expiry; one Lua script
 *       takes a slot in every counter of one hash slot, all or none. This replica renews its leases
 *       every {@code leaseTtl / 3}; the leases of a replica that died expire after {@code leaseTtl}.</li>
 * </ul>
 * Keys are built by the caller with the account in a hash tag, so a Redis Cluster keeps one
 * account's keys in one slot.
 */
public final class RedisLimitStore implements LimitStore, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RedisLimitStore.class);

    static final String ACQUIRE = """
            local now = tonumber(ARGV[1])
            for i = 1, #KEYS do
              redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
              if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[4 + i]) then return i - 1 end
            end
            for i = 1, #KEYS do
              redis.call('ZADD', KEYS[i], ARGV[2], ARGV[4])
              redis.call('PEXPIRE', KEYS[i], ARGV[3])
            end
            return -1
            """;

    private final RedisClient client;
    private final RedisURI uri;
    private final TimeMeter time;
    private final Clock clock;
    private final Duration leaseTtl;
    private final Duration requestTimeout;
    private final Cache<String, ProxyHolder> proxies = Caffeine.newBuilder()
            .maximumSize(100_000).expireAfterAccess(Duration.ofMinutes(5)).build();
    private final Map<String, String[]> leases = new ConcurrentHashMap<>();
    private final ScheduledExecutorService renewer;
    private final AtomicBoolean connecting = new AtomicBoolean();
    private volatile long nextConnectAttemptNanos;
    private volatile Connections connections;

    private record Connections(StatefulRedisConnection<String, byte[]> buckets,
                               StatefulRedisConnection<String, String> leases,
                               AsyncProxyManager<String> proxyManager) {
    }

    private record ProxyHolder(AsyncBucketProxy proxy, long version, AsyncProxyManager<String> manager) {
    }

    public RedisLimitStore(RedisClient client, RedisURI uri, TimeMeter time, Clock clock, Duration leaseTtl,
                           Duration commandTimeout) {
        this.client = client;
        this.uri = uri;
        this.time = time;
        this.clock = clock;
        this.leaseTtl = leaseTtl;
        // a CAS that keeps losing under contention gives up after this, and counts as a store failure
        this.requestTimeout = commandTimeout.multipliedBy(4);
        this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "usage-guard-lease-renewal");
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(100, leaseTtl.toMillis() / 3);
        renewer.scheduleWithFixedDelay(this::renew, period, period, TimeUnit.MILLISECONDS);
        connectAsync();
    }

    @Override
    public String name() {
        return "redis";
    }

    @Override
    public CompletableFuture<BucketResult> consume(String key, BucketSpec spec, long version, long amount) {
        AsyncBucketProxy proxy;
        try {
            proxy = proxy(key, spec, version);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return proxy.asVerbose().tryConsumeAndReturnRemaining(amount).thenApply(RedisLimitStore::result);
    }

    private static BucketResult result(VerboseResult<ConsumptionProbe> r) {
        ConsumptionProbe probe = r.getValue();
        return new BucketResult(probe.isConsumed(), r.getDiagnostics().getAvailableTokensPerEachBandwidth(),
                probe.getNanosToWaitForRefill());
    }

    @Override
    public void refund(String key, BucketSpec spec, long version, long amount) {
        try {
            proxy(key, spec, version).addTokens(amount);
        } catch (RuntimeException e) {
            // the store is down: the tokens come back by refill
        }
    }

    @Override
    public void charge(String key, BucketSpec spec, long version, long amount) {
        try {
            proxy(key, spec, version).tryConsumeAsMuchAsPossible(amount);
        } catch (RuntimeException e) {
            // the store is down: the difference is not charged
        }
    }

    @Override
    public CompletableFuture<Integer> acquire(String[] keys, int[] limits, String leaseId) {
        Connections c;
        try {
            c = connections();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        long now = clock.millis();
        String[] args = new String[4 + keys.length];
        args[0] = Long.toString(now);
        args[1] = Long.toString(now + leaseTtl.toMillis());
        args[2] = Long.toString(leaseTtl.toMillis());
        args[3] = leaseId;
        for (int i = 0; i < limits.length; i++) {
            args[4 + i] = Integer.toString(limits[i]);
        }
        return c.leases().async().<Long>eval(ACQUIRE, ScriptOutputType.INTEGER, keys, args).toCompletableFuture()
                .thenApply(r -> {
                    int refused = r.intValue();
                    if (refused < 0) {
                        leases.put(leaseId, keys);
                    }
                    return refused;
                });
    }

    @Override
    public void release(String[] keys, String leaseId) {
        leases.remove(leaseId);
        Connections c = connections;
        if (c == null) {
            return;
        }
        RedisAsyncCommands<String, String> async = c.leases().async();
        for (String key : keys) {
            async.zrem(key, leaseId); // if this fails the lease expires by itself
        }
    }

    /** Extends every lease this replica holds; a replica that stops doing this loses its slots after the TTL. */
    private void renew() {
        Connections c = connections;
        if (c == null || leases.isEmpty()) {
            return;
        }
        try {
            RedisAsyncCommands<String, String> async = c.leases().async();
            long expiry = clock.millis() + leaseTtl.toMillis();
            for (Map.Entry<String, String[]> e : leases.entrySet()) {
                for (String key : e.getValue()) {
                    async.zadd(key, ZAddArgs.Builder.xx(), (double) expiry, e.getKey());
                    async.pexpire(key, leaseTtl.toMillis());
                }
            }
        } catch (RuntimeException e) {
            log.debug("lease renewal failed: {}", e.toString());
        }
    }

    private AsyncBucketProxy proxy(String key, BucketSpec spec, long version) {
        Connections c = connections();
        ProxyHolder h = proxies.getIfPresent(key);
        if (h == null || h.version() != version || h.manager() != c.proxyManager()) {
            AsyncBucketProxy proxy = c.proxyManager().builder()
                    .withImplicitConfigurationReplacement(version, TokensInheritanceStrategy.ADDITIVE)
                    .withOptimization(Optimizations.batching())
                    .build(key, () -> CompletableFuture.completedFuture(spec.configuration()));
            h = new ProxyHolder(proxy, version, c.proxyManager());
            proxies.put(key, h);
        }
        return h.proxy();
    }

    private Connections connections() {
        Connections c = connections;
        if (c == null) {
            connectAsync();
            throw new IllegalStateException("not connected to Redis");
        }
        return c;
    }

    /** Connects in the background; until it succeeds every operation fails fast (and the failure policy applies). */
    private void connectAsync() {
        if (connections != null || System.nanoTime() < nextConnectAttemptNanos || !connecting.compareAndSet(false, true)) {
            return;
        }
        nextConnectAttemptNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        client.connectAsync(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE), uri).toCompletableFuture()
                .thenCompose(buckets -> client.connectAsync(StringCodec.UTF8, uri).toCompletableFuture()
                        .whenComplete((leaseConn, e) -> {
                            if (e != null) {
                                buckets.closeAsync();
                            }
                        })
                        .thenApply(leaseConn -> {
                            AsyncProxyManager<String> manager = Bucket4jLettuce.casBasedBuilder(buckets)
                                    .clientClock(time)
                                    .requestTimeout(requestTimeout)
                                    .expirationAfterWrite(ExpirationAfterWriteStrategy
                                            .basedOnTimeForRefillingBucketUpToMax(Duration.ofMinutes(1)))
                                    .build().asAsync();
                            return new Connections(buckets, leaseConn, manager);
                        }))
                .whenComplete((c, e) -> {
                    if (c != null) {
                        connections = c;
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
        Connections c = connections;
        if (c != null) {
            c.buckets().close();
            c.leases().close();
        }
    }
}
