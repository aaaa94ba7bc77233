package io.usageguard.propagation;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A single replica: changes reach this process's listeners only. */
public class LocalChangeBus implements ChangeBus {

    private static final Logger log = LoggerFactory.getLogger(LocalChangeBus.class);

    private final List<Consumer<RegistryChange>> listeners = new CopyOnWriteArrayList<>();

    @Override
    public void publish(RegistryChange change) {
        deliver(change);
    }

    @Override
    public void subscribe(Consumer<RegistryChange> listener) {
        listeners.add(listener);
    }

    protected void deliver(RegistryChange change) {
        for (Consumer<RegistryChange> l : listeners) {
            try {
                l.accept(change);
            } catch (RuntimeException e) {
                log.warn("registry change listener failed for {}", change.kind(), e);
            }
        }
    }
}
