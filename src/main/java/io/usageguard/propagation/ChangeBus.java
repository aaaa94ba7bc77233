package io.usageguard.propagation;

import java.util.function.Consumer;

/**
 * Tells every replica's caches that the registry changed. {@link #publish} applies the change to
 * this replica's listeners before it returns, then announces it to the others (Redis pub/sub when
 * {@code usage-guard.state.store=redis}).
 */
public interface ChangeBus {

    void publish(RegistryChange change);

    void subscribe(Consumer<RegistryChange> listener);
}
