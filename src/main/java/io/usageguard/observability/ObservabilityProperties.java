package io.usageguard.observability;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.observability.*}: the access log and the gateway's own metrics.
 *
 * @param accessLog    the structured access log (logger {@code usage-guard.access})
 * @param nettyMetrics reactor-netty's HTTP server, connection and allocator metrics on the public port
 *                     (URIs reduced to the known API paths, so the {@code uri} label stays bounded)
 * @param decision     bounds of the {@code usage_guard_decision_seconds} histogram's buckets
 */
@ConfigurationProperties("usage-guard.observability")
public record ObservabilityProperties(
        AccessLog accessLog,
        @DefaultValue("true") boolean nettyMetrics,
        Decision decision) {

    public ObservabilityProperties {
        if (accessLog == null) {
            accessLog = new AccessLog(true);
        }
        if (decision == null) {
            decision = new Decision(Duration.ofNanos(20_000), Duration.ofSeconds(1));
        }
    }

    /** @param enabled write one JSON line per request on the public port (default true) */
    public record AccessLog(@DefaultValue("true") boolean enabled) {
    }

    /**
     * @param minimumExpected the lowest histogram bucket (default 20µs)
     * @param maximumExpected the highest histogram bucket (default 1s)
     */
    public record Decision(
            @DefaultValue("20us") Duration minimumExpected,
            @DefaultValue("1s") Duration maximumExpected) {
    }
}
