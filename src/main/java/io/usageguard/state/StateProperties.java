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
            redis = new Redis("redis://127.0.0.1:6379", Duration.ofMillis(50), Duration.ofSeconds(2), "ug:", 1, 0.01,
                    Duration.ofMillis(100));
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
     * @param reserveShare   the most of a limit (a window's, or a concurrency counter's) one replica takes from Redis
     *                       ahead of need, so that a busy account's requests are admitted without a Redis call each;
     *                       limits too small for one request's share are never taken ahead; 0 turns this off
     * @param reserveAhead   how much of its own recent traffic on a limit a replica takes ahead (at most the share)
     */
    public record Redis(
            @DefaultValue("redis://127.0.0.1:6379") String url,
            @DefaultValue("50ms") Duration commandTimeout,
            @DefaultValue("2s") Duration connectTimeout,
            @DefaultValue("ug:") String keyPrefix,
            @DefaultValue("1") int replicas,
            @DefaultValue("0.01") double reserveShare,
            @DefaultValue("100ms") Duration reserveAhead) {

        public Redis {
            if (reserveShare < 0 || reserveShare > 0.5) {
                throw new IllegalArgumentException("usage-guard.state.redis.reserve-share must be between 0 and 0.5, was " + reserveShare);
            }
            if (reserveAhead == null || reserveAhead.isNegative()) {
                throw new IllegalArgumentException("usage-guard.state.redis.reserve-ahead must not be negative");
            }
        }
    }
}
