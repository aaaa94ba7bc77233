package io.usageguard.state;

import java.util.concurrent.TimeUnit;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A resilience4j circuit breaker in front of a shared state store, with the store's metrics:
 * {@code usage_guard_state_store_errors_total{store}} and {@code usage_guard_state_store_fallback{store}}
 * (1 while requests are decided without the store: the breaker is not closed, or the last call failed).
 * Callers ask {@link #tryAcquire()} before a call and report its outcome; an open breaker answers
 * at once, so a dead store costs requests no waiting.
 */
public final class StoreCircuit {

    private static final Logger log = LoggerFactory.getLogger(StoreCircuit.class);

    private final String store;
    private final CircuitBreaker breaker;
    private final Counter errors;
    private volatile boolean lastFailed;

    public StoreCircuit(String store, StoreCircuitProperties p, MeterRegistry registry) {
        this.store = store;
        this.breaker = CircuitBreaker.of("usage-guard-state-" + store, CircuitBreakerConfig.custom()
                .failureRateThreshold(p.failureRateThreshold())
                .minimumNumberOfCalls(p.minimumCalls())
                .slidingWindowSize(p.slidingWindow())
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .waitDurationInOpenState(p.openDuration())
                .permittedNumberOfCallsInHalfOpenState(p.halfOpenCalls())
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .recordExceptions(Throwable.class)
                .build());
        breaker.getEventPublisher().onStateTransition(e ->
                log.warn("state store {}: circuit breaker {}", store, e.getStateTransition()));
        this.errors = Counter.builder("usage_guard_state_store_errors")
                .description("Failed calls to the shared state store")
                .tag("store", store).register(registry);
        Gauge.builder("usage_guard_state_store_fallback", this, c -> c.fallbackActive() ? 1 : 0)
                .description("1 while requests are decided without the shared state store (its failure policy applies)")
                .tag("store", store).register(registry);
    }

    public String store() {
        return store;
    }

    /** False when the breaker is open: do not call the store, apply the failure policy. */
    public boolean tryAcquire() {
        return breaker.tryAcquirePermission();
    }

    public void success(long nanos) {
        lastFailed = false;
        breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
    }

    public void failure(long nanos, Throwable error) {
        lastFailed = true;
        errors.increment();
        breaker.onError(nanos, TimeUnit.NANOSECONDS, error);
    }

    /** A permission taken with {@link #tryAcquire()} that ended in no call. */
    public void released() {
        breaker.releasePermission();
    }

    public boolean fallbackActive() {
        return lastFailed || breaker.getState() != CircuitBreaker.State.CLOSED;
    }

    public CircuitBreaker.State state() {
        return breaker.getState();
    }
}
