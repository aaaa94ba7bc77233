package io.usageguard.routing;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.usageguard.ratelimit.LimitSet;
import io.usageguard.verification.VerificationLevel;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * {@code usage-guard.models.<glob>}, {@code usage-guard.backends.<id>} and
 * {@code usage-guard.request.*}. Glob keys contain characters Spring Boot strips from map keys, so
 * they are written in brackets: {@code usage-guard.models.[deepseek-*].backend=vllm}, or
 * {@code "[deepseek-*]":} in YAML.
 */
@ConfigurationProperties("usage-guard")
public record RoutingProperties(
        Map<String, ModelProperties> models,
        Map<String, BackendProperties> backends,
        Request request) {

    public RoutingProperties {
        models = models == null ? Map.of() : Map.copyOf(models);
        backends = backends == null ? Map.of() : Map.copyOf(backends);
        if (request == null) {
            request = new Request(DataSize.ofMegabytes(8), 1_048_576, 64);
        }
    }

    /**
     * @param backend          id(s) of the backend(s) under {@code usage-guard.backends} serving the model
     * @param minVerification  the real-name verification an account needs (default INDIVIDUAL, as the platform requires)
     * @param maxTokensDefault the completion tokens assumed when a request gives no {@code max_tokens}
     * @param allowedTiers     tiers that may use the model; empty means every tier
     * @param tiers            per-tier limits for this model, overriding {@code usage-guard.tiers.<TIER>}
     */
    public record ModelProperties(
            List<String> backend,
            @DefaultValue("INDIVIDUAL") VerificationLevel minVerification,
            @DefaultValue("4096") int maxTokensDefault,
            List<String> allowedTiers,
            Map<String, LimitSet> tiers) {

        public ModelProperties {
            backend = backend == null ? List.of() : List.copyOf(backend);
            allowedTiers = allowedTiers == null ? List.of() : List.copyOf(allowedTiers);
            tiers = tiers == null ? Map.of() : Map.copyOf(tiers);
        }
    }

    /**
     * @param uri           base URI of an OpenAI-compatible server, e.g. {@code http://vllm:8000}
     * @param maxConcurrent requests in flight to this backend at most (bulkhead, no waiting); 0 = unlimited
     * @param timeout       longest a non-streaming call may take, response fully written (504 after it)
     * @param apiKey        the backend's own key, sent as {@code Authorization: Bearer}; the client's key never is
     * @param firstByteTimeout for a stream: longest wait for the first byte of the response body; the
     *                      stream itself is never cut by a timeout once it flows (docs/backend-protection.md)
     * @param circuitBreaker the backend's circuit breaker (5xx answers and timeouts are failures)
     */
    public record BackendProperties(
            String uri,
            @DefaultValue("0") int maxConcurrent,
            @DefaultValue("120s") Duration timeout,
            String apiKey,
            @DefaultValue("60s") Duration firstByteTimeout,
            @DefaultValue io.usageguard.backend.CircuitBreakerSettings circuitBreaker) {
    }

    /**
     * @param maxBodySize        request bodies larger than this are refused with 413 while being read
     * @param maxTokensCeiling   a {@code max_tokens} above this is refused as absurd (400)
     * @param maxNestingDepth    JSON nested deeper than this is refused (400)
     */
    public record Request(
            @DefaultValue("8MB") DataSize maxBodySize,
            @DefaultValue("1048576") int maxTokensCeiling,
            @DefaultValue("64") int maxNestingDepth) {
    }
}
