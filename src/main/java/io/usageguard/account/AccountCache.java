package io.usageguard.account;

import java.util.Optional;
import java.util.concurrent.Executor;

import io.usageguard.propagation.ChangeBus;
import io.usageguard.propagation.RegistryChange;
import io.usageguard.registry.LookupCache;
import io.usageguard.registry.RegistryProperties;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/** Accounts by id, served from memory; evicted on every change announced on the {@link ChangeBus}. */
@Component
public class AccountCache {

    private final LookupCache<Account> cache;

    public AccountCache(AccountLookup lookup, RegistryProperties properties,
                        @Qualifier("registryLoader") Executor loader, ChangeBus changes) {
        this.cache = new LookupCache<>(properties.cache(), loader, lookup::findAccount);
        changes.subscribe(change -> {
            if (change.kind() == RegistryChange.Kind.ACCOUNT) {
                cache.invalidate(change.id());
            } else if (change.kind() == RegistryChange.Kind.ALL) {
                cache.invalidateAll();
            }
        });
    }

    public Mono<Optional<Account>> get(String accountId) {
        return cache.get(accountId);
    }
}
