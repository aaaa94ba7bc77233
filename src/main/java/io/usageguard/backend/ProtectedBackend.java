package io.usageguard.backend;

import java.time.Duration;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.usageguard.routing.RoutingProperties;

/**
 * One backend with its circuit breaker and bulkhead. Remembers when the breaker last opened, so
 * that a refusal can say how long to wait (resilience4j does not expose the rest of the open wait).
 */
final class ProtectedBackend {

    private final String id;
    private final RoutingProperties.BackendProperties properties;
    private final CircuitBreaker breaker;
    private final Bulkhead bulkhead;
    private final long openWaitNanos;
    private volatile long openedAtNanos;

    ProtectedBackend(String id, RoutingProperties.BackendProperties properties, CircuitBreaker breaker,
                     Bulkhead bulkhead) {
        this.id = id;
        this.properties = properties;
        this.breaker = breaker;
        this.bulkhead = bulkhead;
        this.openWaitNanos = breaker.getCircuitBreakerConfig().getWaitIntervalFunctionInOpenState().apply(1)
                * 1_000_000L;
        breaker.getEventPublisher().onStateTransition(e -> {
            if (e.getStateTransition().getToState() == CircuitBreaker.State.OPEN) {
                openedAtNanos = System.nanoTime();
            }
        });
    }

    String id() {
        return id;
    }

    RoutingProperties.BackendProperties properties() {
        return properties;
    }

    CircuitBreaker breaker() {
        return breaker;
    }

    Bulkhead bulkhead() {
        return bulkhead;
    }

    /** Requests to this backend in flight now. */
    int inFlight() {
        return bulkhead.getBulkheadConfig().getMaxConcurrentCalls() - bulkhead.getMetrics().getAvailableConcurrentCalls();
    }

    /** The rest of the breaker's open wait; 1 s when it is half-open (trial calls taken) or closed. */
    Duration retryAfter() {
        if (breaker.getState() == CircuitBreaker.State.OPEN) {
            long left = openWaitNanos - (System.nanoTime() - openedAtNanos);
            if (left > 0) {
                return Duration.ofNanos(left);
            }
        }
        return Duration.ofSeconds(1);
    }
}
