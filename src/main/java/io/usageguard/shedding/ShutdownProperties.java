package io.usageguard.shedding;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.shutdown.grace-period}: on SIGTERM, how long running requests (streams) may
 * take to finish. New requests are refused meanwhile and readiness reports OUT_OF_SERVICE. Also
 * the default of {@code spring.lifecycle.timeout-per-shutdown-phase} (application.yml).
 */
@ConfigurationProperties("usage-guard.shutdown")
public record ShutdownProperties(@DefaultValue("30s") Duration gracePeriod) {
}
