package io.usageguard.registry;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Function;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import reactor.core.publisher.Mono;

/**
 * A registry lookup served from memory: positive and negative entries, bounded in size and in
 * staleness, loaded and refreshed off the event loop. A hit never touches the database; a refresh
 * serves the old value until the new one arrives; a failed refresh keeps the old value.
 */
public final class LookupCache<V> {

    private final AsyncLoadingCache<String, Optional<V>> cache;

    public LookupCache(RegistryProperties.Cache config, Executor loader, Function<String, Optional<V>> load) {
        long positiveNanos = config.expire().toNanos();
        long negativeNanos = config.negativeExpire().toNanos();
        this.cache = Caffeine.newBuilder()
                .maximumSize(config.maxSize())
                .refreshAfterWrite(config.refresh())
                .expireAfter(new Expiry<String, Optional<V>>() {
                    @Override
                    public long expireAfterCreate(String key, Optional<V> value, long currentTime) {
                        return value.isPresent() ? positiveNanos : negativeNanos;
                    }

                    @Override
                    public long expireAfterUpdate(String key, Optional<V> value, long currentTime, long currentDuration) {
                        return value.isPresent() ? positiveNanos : negativeNanos;
                    }

                    @Override
                    public long expireAfterRead(String key, Optional<V> value, long currentTime, long currentDuration) {
                        return currentDuration;
                    }
                })
                // the cache's own upkeep runs on the caller, amortised (handing it to another thread
                // costs a wake-up every few reads); loads and refreshes go to the loader pool
                .executor(Runnable::run)
                .buildAsync((key, executor) -> CompletableFuture.supplyAsync(() -> load.apply(key), loader));
    }

    public Mono<Optional<V>> get(String key) {
        CompletableFuture<Optional<V>> future = cache.get(key);
        if (future.isDone() && !future.isCompletedExceptionally()) {
            return Mono.just(future.join());
        }
        return Mono.fromFuture(future, true);
    }

    /** The cached value if present and loaded, without loading. */
    public Optional<V> peek(String key) {
        CompletableFuture<Optional<V>> future = cache.getIfPresent(key);
        if (future != null && future.isDone() && !future.isCompletedExceptionally()) {
            return future.join();
        }
        return Optional.empty();
    }

    public void invalidate(String key) {
        cache.synchronous().invalidate(key);
    }

    public void invalidateAll() {
        cache.synchronous().invalidateAll();
    }
}
