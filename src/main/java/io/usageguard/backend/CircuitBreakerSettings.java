package io.usageguard.backend;

import java.time.Duration;

import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.backends.<id>.circuit-breaker.*}: one backend's circuit breaker (resilience4j,
 * count-based sliding window). A 5xx answer, a timeout or a failed connection is a failure; any other
 * answer is a success. While open, the backend is not called and callers get 503
 * {@code upstream_unavailable} with {@code Retry-After} set to the rest of the open wait.
 *
 * @param failureRateThreshold       percentage of failures in the window that opens the breaker
 * @param slidingWindowSize          calls in the window
 * @param minimumNumberOfCalls       calls before the failure rate is judged at all
 * @param waitDurationInOpenState    how long the breaker stays open before letting trial calls through
 * @param permittedCallsInHalfOpenState trial calls while half-open; they decide between closed and open again
 */
public record CircuitBreakerSettings(
        @DefaultValue("50") float failureRateThreshold,
        @DefaultValue("20") int slidingWindowSize,
        @DefaultValue("10") int minimumNumberOfCalls,
        @DefaultValue("30s") Duration waitDurationInOpenState,
        @DefaultValue("3") int permittedCallsInHalfOpenState) {
}
