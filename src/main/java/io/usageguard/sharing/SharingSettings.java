package io.usageguard.sharing;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.usageguard.propagation.ChangeBus;
import io.usageguard.propagation.RegistryChange;
import io.usageguard.registry.KeySharingSettings;
import io.usageguard.registry.RegistryProperties;
import io.usageguard.registry.RegistryRepository;
import reactor.core.publisher.Mono;

/**
 * Per-key thresholds from the registry, in memory. Only asked for a key that has been seen from
 * more than one network, so ordinary keys never cost a lookup. Loaded on the registry loader
 * threads, never on the event loop. A registry change to a key (its hash on the {@link ChangeBus})
 * drops its entry and tells {@code onKeyChanged}, on every replica.
 */
final class SharingSettings {

    private final SharingProperties properties;
    private final RegistryRepository registry;
    private final ChangeBus changes;
    private final AsyncLoadingCache<String, Optional<KeySharingSettings>> cache;
    private final ConcurrentHashMap<String, String> keyIdByHash = new ConcurrentHashMap<>();

    SharingSettings(SharingProperties properties, RegistryRepository registry, RegistryProperties registryProperties,
                    Executor loader, ChangeBus changes, Consumer<String> onKeyChanged, Runnable onAllChanged) {
        this.properties = properties;
        this.registry = registry;
        this.changes = changes;
        this.cache = Caffeine.newBuilder()
                .maximumSize(properties.maxTrackedKeys())
                .expireAfterWrite(registryProperties.cache().expire())
                .executor(loader)
                .<String, Optional<KeySharingSettings>>removalListener((keyId, value, cause) -> {
                    if (value != null && value.isPresent()) {
                        keyIdByHash.remove(value.get().keyHash(), keyId);
                    }
                })
                .buildAsync((keyId, executor) -> CompletableFuture.supplyAsync(() -> {
                    Optional<KeySharingSettings> s = registry.findKeySharing(keyId);
                    s.ifPresent(v -> keyIdByHash.put(v.keyHash(), keyId));
                    return s;
                }, executor));
        changes.subscribe(change -> {
            if (change.kind() == RegistryChange.Kind.KEY) {
                String keyId = keyIdByHash.get(change.id());
                if (keyId != null) {
                    cache.synchronous().invalidate(keyId);
                    onKeyChanged.accept(keyId);
                }
            } else if (change.kind() == RegistryChange.Kind.ALL) {
                cache.synchronous().invalidateAll();
                onAllChanged.run();
            }
        });
    }

    Mono<Thresholds> thresholds(String keyId) {
        CompletableFuture<Optional<KeySharingSettings>> f = cache.get(keyId);
        if (f.isDone() && !f.isCompletedExceptionally()) {
            return Mono.just(effective(f.join()));
        }
        return Mono.fromFuture(f, true).map(this::effective);
    }

    /** Blocking: for the admin API only. */
    Thresholds thresholdsNow(String keyId) {
        return effective(cache.synchronous().get(keyId));
    }

    /** Blocking: tells every replica that this key changed (by its hash, as the key cache knows it). */
    void announce(String keyId) {
        registry.findKeySharing(keyId).ifPresent(s -> changes.publish(RegistryChange.key(s.keyHash())));
    }

    void invalidate(String keyId) {
        cache.synchronous().invalidate(keyId);
    }

    Thresholds effective(Optional<KeySharingSettings> s) {
        Integer warn = s.map(KeySharingSettings::warnNetworks).orElse(null);
        Integer block = s.map(KeySharingSettings::blockNetworks).orElse(null);
        int b = block != null ? block : properties.blockNetworks();
        int w = warn != null ? warn : Math.min(properties.warnNetworks(), b);
        return new Thresholds(w, b, warn != null || block != null);
    }
}
