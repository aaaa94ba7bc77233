package io.usageguard.observability;

import java.util.regex.Pattern;

import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.reactor.netty.NettyServerCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * reactor-netty's own metrics ({@code reactor_netty_http_server_*}, {@code reactor_netty_bytebuf_allocator_*},
 * {@code reactor_netty_eventloop_*}, ...). Spring Boot 4 has no property for them, so the server is
 * customised here. reactor-netty publishes to Micrometer's global registry, which Spring Boot's
 * registry is part of ({@code management.metrics.use-global-registry}, default true). The {@code uri}
 * label is the API path when it is one of the API's own, {@code other} otherwise, and the
 * {@code method} label a standard method or {@code other}: clients cannot create series. JVM metrics are Spring Boot's defaults.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "usage-guard.observability.netty-metrics", havingValue = "true", matchIfMissing = true)
public class NettyMetricsConfiguration {

    private static final Pattern KNOWN_PATH = Pattern.compile("/v1/[a-z]+(/[a-z_]+)?");

    @Bean
    NettyServerCustomizer usageGuardNettyMetrics() {
        return server -> server.metrics(true, NettyMetricsConfiguration::uriLabel, NettyMetricsConfiguration::methodLabel);
    }

    private static final java.util.Set<String> METHODS =
            java.util.Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT");

    /** A client may send any token as the method: only the standard ones become label values. */
    static String methodLabel(String method) {
        return METHODS.contains(method) ? method : "other";
    }

    static String uriLabel(String uri) {
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        return KNOWN_PATH.matcher(path).matches() ? path : "other";
    }
}
