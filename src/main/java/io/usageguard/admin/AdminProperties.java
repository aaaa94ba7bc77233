package io.usageguard.admin;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code usage-guard.admin.token} (environment {@code USAGE_GUARD_ADMIN_TOKEN}): the bearer token of
 * the admin API. Without one, every admin call is refused.
 */
@ConfigurationProperties("usage-guard.admin")
public record AdminProperties(String token) {
}
