package io.usageguard.state;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.state.*}: where shared, fast-changing state lives (limits, sharing signals,
 * change propagation). {@code local} keeps it in this process; {@code redis} shares it between
 * replicas.
 */
@ConfigurationProperties("usage-guard.state")
public record StateProperties(
        @DefaultValue("local") Store store,
        @DefaultValue("local-fallback") OnStoreFailure onStoreFailure,
        Redis redis) {

    public StateProperties {
        if (redis == null) {
            redis = new Redis("redis://127.0.0.1:6379", Duration.ofMillis(50), Duration.ofSeconds(2), "ug:", 1);
        }
    }

    public enum Store {
        LOCAL, REDIS
    }

    public enum OnStoreFailure {
        LOCAL_FALLBACK, FAIL_OPEN, FAIL_CLOSED
    }

    /**
     * @param url            {@code redis://[:password@]host:port[/db]}, or {@code rediss://} for TLS
     * @param commandTimeout how long a request may wait on Redis before the failure policy applies
     * @param connectTimeout how long to wait for a connection
     * @param keyPrefix      prefix of every key and channel this gateway writes
     * @param replicas       how many gateway replicas share the limits (for {@code local-fallback}: each enforces limit ÷ replicas)
     */
    public record Redis(
            @DefaultValue("redis://127.0.0.1:6379") String url,
            @DefaultValue("50ms") Duration commandTimeout,
            @DefaultValue("2s") Duration connectTimeout,
            @DefaultValue("ug:") String keyPrefix,
            @DefaultValue("1") int replicas) {
    }
}
