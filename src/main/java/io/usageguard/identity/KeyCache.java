package io.usageguard.identity;

import java.util.Optional;
import java.util.concurrent.Executor;

import io.usageguard.propagation.ChangeBus;
import io.usageguard.propagation.RegistryChange;
import io.usageguard.registry.LookupCache;
import io.usageguard.registry.RegistryProperties;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/** Keys by the SHA-256 of the secret, served from memory, negative entries included. */
@Component
public class KeyCache {

    private final LookupCache<ApiKey> cache;

    public KeyCache(KeyLookup lookup, RegistryProperties properties,
                    @Qualifier("registryLoader") Executor loader, ChangeBus changes) {
        this.cache = new LookupCache<>(properties.cache(), loader, lookup::findByHash);
        changes.subscribe(change -> {
            if (change.kind() == RegistryChange.Kind.KEY) {
                cache.invalidate(change.id());
            } else if (change.kind() == RegistryChange.Kind.ALL) {
                cache.invalidateAll();
            }
        });
    }

    public Mono<Optional<ApiKey>> findByHash(String sha256Hex) {
        return cache.get(sha256Hex);
    }
}
