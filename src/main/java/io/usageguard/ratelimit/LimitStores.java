package io.usageguard.ratelimit;

import io.usageguard.state.StoreCircuit;

/**
 * The stores the limiter uses: the primary one; with Redis, also the in-process store used for
 * {@code local-fallback} and the circuit breaker guarding Redis.
 *
 * @param primary  where limits are normally kept
 * @param fallback in-process buckets for {@code on-store-failure=local-fallback}; null with the local store
 * @param circuit  the breaker in front of the primary store; null with the local store
 */
public record LimitStores(LimitStore primary, LimitStore fallback, StoreCircuit circuit) implements AutoCloseable {

    @Override
    public void close() throws Exception {
        if (primary instanceof AutoCloseable c) {
            c.close();
        }
    }
}
