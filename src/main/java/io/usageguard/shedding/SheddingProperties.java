package io.usageguard.shedding;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.shedding.*}.
 *
 * @param maxInFlight requests on the public port in flight at once (streams included) past which the
 *                    gateway answers 503 {@code overloaded} at once; 0 = no ceiling
 */
@ConfigurationProperties("usage-guard.shedding")
public record SheddingProperties(@DefaultValue("2000") int maxInFlight) {
}
