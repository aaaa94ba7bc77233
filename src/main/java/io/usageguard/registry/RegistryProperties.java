package io.usageguard.registry;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.registry.*}: where accounts, keys and the audit trail live, and how long the
 * hot path may serve them from memory. {@code url}, {@code username} and {@code password} feed
 * {@code spring.datasource.*} (see application.yml); without a URL an embedded H2 file is used.
 */
@ConfigurationProperties("usage-guard.registry")
public record RegistryProperties(
        String url,
        String username,
        Cache cache,
        @DefaultValue("4") int loaderThreads) {

    public RegistryProperties {
        if (cache == null) {
            cache = new Cache(100_000, Duration.ofSeconds(15), Duration.ofMinutes(10), Duration.ofSeconds(30));
        }
    }

    /**
     * @param maxSize        entries per cache (keys, accounts)
     * @param refresh        after this, an entry in use is reloaded in the background while the old one is served
     * @param expire         an entry is dropped after this even if in use (bounds staleness when the database is down)
     * @param negativeExpire how long "no such key" is remembered
     */
    public record Cache(
            @DefaultValue("100000") long maxSize,
            @DefaultValue("15s") Duration refresh,
            @DefaultValue("10m") Duration expire,
            @DefaultValue("30s") Duration negativeExpire) {
    }
}
