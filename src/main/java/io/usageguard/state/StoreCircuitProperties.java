package io.usageguard.state;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.state.circuit-breaker.*}: when the shared store counts as down. While the
 * breaker is open no request waits on Redis; {@code usage-guard.state.on-store-failure} decides
 * instead. After {@code open-duration} a few trial calls go to Redis again, and it is back in use
 * as soon as they succeed.
 *
 * @param failureRateThreshold percentage of failed calls (errors and 50 ms timeouts) that opens the breaker
 * @param minimumCalls         calls in the window before the rate counts
 * @param slidingWindow        calls the rate is computed over
 * @param openDuration         how long the breaker stays open before trying Redis again
 * @param halfOpenCalls        trial calls while half open
 */
@ConfigurationProperties("usage-guard.state.circuit-breaker")
public record StoreCircuitProperties(
        @DefaultValue("50") float failureRateThreshold,
        @DefaultValue("5") int minimumCalls,
        @DefaultValue("20") int slidingWindow,
        @DefaultValue("2s") Duration openDuration,
        @DefaultValue("3") int halfOpenCalls) {
}
