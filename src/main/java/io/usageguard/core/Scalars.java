package io.usageguard.core;

import reactor.core.Fuseable;
import reactor.core.publisher.Mono;

/**
 * For the request path's fast case: a {@link Mono} that already holds its value (a cache hit, a
 * decision made in memory) is read at once instead of being subscribed to with operators, so a
 * guard that passes stays a plain method call.
 */
public final class Scalars {

    private Scalars() {
    }

    /**
     * Whether {@code mono} is a value known now ({@code Mono.just}): then {@link #value} reads it.
     * False for anything that has yet to complete, and for errors and empty monos.
     */
    public static boolean isKnown(Mono<?> mono) {
        return mono instanceof Fuseable.ScalarCallable<?> && !(mono instanceof Fuseable.QueueSubscription<?>)
                && value(mono) != null;
    }

    /** The value of a mono for which {@link #isKnown} is true. */
    @SuppressWarnings("unchecked")
    public static <T> T value(Mono<T> mono) {
        try {
            return ((Fuseable.ScalarCallable<T>) mono).call();
        } catch (Exception e) {
            return null;
        }
    }
}
