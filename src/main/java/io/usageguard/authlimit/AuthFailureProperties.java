package io.usageguard.authlimit;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.auth-failures.*}: failed authentications per client address (OWASP API2).
 * After {@code max} invalid or unknown keys from one address within {@code window}, that address
 * gets 429 until the window ends, without any key lookup.
 *
 * @param max                  failed authentications allowed per window; 0 turns the limit off
 * @param window               the counting window (starts at an address's first failure)
 * @param ipv4Prefix           IPv4 addresses are counted by this network (32: each address)
 * @param ipv6Prefix           IPv6 addresses are counted by this network (64: one host's usual allocation)
 * @param maxTrackedAddresses  addresses remembered at once (least recently used dropped first)
 */
@ConfigurationProperties("usage-guard.auth-failures")
public record AuthFailureProperties(
        @DefaultValue("20") int max,
        @DefaultValue("1m") Duration window,
        @DefaultValue("32") int ipv4Prefix,
        @DefaultValue("64") int ipv6Prefix,
        @DefaultValue("100000") long maxTrackedAddresses) {

    public AuthFailureProperties {
        if (max < 0) {
            throw new IllegalArgumentException("usage-guard.auth-failures.max must not be negative");
        }
        if (window == null || window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("usage-guard.auth-failures.window must be positive");
        }
        if (ipv4Prefix < 0 || ipv4Prefix > 32 || ipv6Prefix < 0 || ipv6Prefix > 128) {
            throw new IllegalArgumentException("usage-guard.auth-failures.ipv4-prefix is 0–32 and ipv6-prefix 0–128");
        }
        if (maxTrackedAddresses < 1) {
            throw new IllegalArgumentException("usage-guard.auth-failures.max-tracked-addresses must be positive");
        }
    }
}
