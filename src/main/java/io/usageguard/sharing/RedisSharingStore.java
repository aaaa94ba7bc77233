package io.usageguard.sharing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import reactor.core.publisher.Mono;

/**
 * The shared key-sharing counts in Redis: one HyperLogLog per key, kind and sub-window
 * ({@code <prefix>sharing:{<keyId>}:n:<subWindow>} for networks, {@code :a:} for agents), each with
 * a TTL of one window plus one sub-window, and one flag per threshold so that one replica acts on a
 * crossing. All of a key's keys carry the key id as hash tag, so they live in one cluster slot and
 * one {@code PFCOUNT} counts the union of the window. Only the Lettuce async API: commands written
 * back to back travel pipelined, and nothing ever blocks an event loop.
 */
final class RedisSharingStore implements AutoCloseable {

    private final StatefulRedisConnection<String, String> connection;
    private final String prefix;
    private final int slots;
    private final long ttlMillis;
    private final Duration adminTimeout;

    RedisSharingStore(RedisClient client, String keyPrefix, SharingProperties properties, Duration commandTimeout) {
        this.connection = client.connect();
        this.prefix = keyPrefix + "sharing:{";
        this.slots = properties.subWindows();
        this.ttlMillis = properties.window().toMillis() + properties.subWindowMillis();
        this.adminTimeout = commandTimeout.multipliedBy(20).plusSeconds(1);
    }

    /** Counts over the window: {networks, agents}. */
    record Counts(long networks, long agents) {
    }

    /**
     * Adds what this replica has not yet added in this sub-window (null: nothing new of that kind),
     * then counts the window. One round trip.
     */
    Mono<Counts> record(String keyId, long slot, String network, String agent) {
        RedisAsyncCommands<String, String> c = connection.async();
        if (network != null) {
            String k = key(keyId, "n", slot);
            c.pfadd(k, network);
            c.pexpire(k, ttlMillis);
        }
        if (agent != null) {
            String k = key(keyId, "a", slot);
            c.pfadd(k, agent);
            c.pexpire(k, ttlMillis);
        }
        return count(c, keyId, slot);
    }

    Mono<Counts> count(String keyId, long slot) {
        return count(connection.async(), keyId, slot);
    }

    private Mono<Counts> count(RedisAsyncCommands<String, String> c, String keyId, long slot) {
        RedisFuture<Long> n = c.pfcount(keys(keyId, "n", slot));
        RedisFuture<Long> a = c.pfcount(keys(keyId, "a", slot));
        return Mono.fromCompletionStage(n.thenCombine(a, Counts::new));
    }

    /** SET NX on the flag of a crossing: true for the one replica that gets to act on it. */
    Mono<Boolean> claim(String keyId, String level, String value, boolean alsoWarn) {
        RedisAsyncCommands<String, String> c = connection.async();
        if (alsoWarn) {
            c.set(flag(keyId, "warn"), value, SetArgs.Builder.nx().px(ttlMillis));
        }
        return Mono.fromCompletionStage(c.set(flag(keyId, level), value, SetArgs.Builder.nx().px(ttlMillis)))
                .map("OK"::equals)
                .defaultIfEmpty(false);
    }

    /** Gives a failed action back, so that the next evaluation tries again. */
    void release(String keyId, String level) {
        connection.async().del(flag(keyId, level));
    }

    /** Blocking, for the admin API: {networks, agents, warn flag, block flag}. */
    Object[] describe(String keyId, long slot) throws Exception {
        RedisAsyncCommands<String, String> c = connection.async();
        RedisFuture<Long> n = c.pfcount(keys(keyId, "n", slot));
        RedisFuture<Long> a = c.pfcount(keys(keyId, "a", slot));
        RedisFuture<String> w = c.get(flag(keyId, "warn"));
        RedisFuture<String> b = c.get(flag(keyId, "block"));
        long ms = adminTimeout.toMillis();
        return new Object[] {n.get(ms, TimeUnit.MILLISECONDS), a.get(ms, TimeUnit.MILLISECONDS),
                w.get(ms, TimeUnit.MILLISECONDS), b.get(ms, TimeUnit.MILLISECONDS)};
    }

    /** Blocking, for the admin API: deletes the key's window and flags. */
    void clear(String keyId, long slot) throws Exception {
        List<String> all = new ArrayList<>(2 * slots + 2);
        all.addAll(List.of(keys(keyId, "n", slot)));
        all.addAll(List.of(keys(keyId, "a", slot)));
        all.add(flag(keyId, "warn"));
        all.add(flag(keyId, "block"));
        connection.async().del(all.toArray(String[]::new)).get(adminTimeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private String key(String keyId, String kind, long slot) {
        return prefix + keyId + "}:" + kind + ":" + slot;
    }

    private String[] keys(String keyId, String kind, long slot) {
        String[] out = new String[slots];
        for (int i = 0; i < slots; i++) {
            out[i] = key(keyId, kind, slot - i);
        }
        return out;
    }

    private String flag(String keyId, String level) {
        return prefix + keyId + "}:flag:" + level;
    }

    @Override
    public void close() {
        connection.closeAsync();
    }
}
