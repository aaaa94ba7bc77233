package io.usageguard.routing;

import java.util.Map;

import org.springframework.cloud.gateway.route.RouteLocator;
import org.springframework.cloud.gateway.route.builder.RouteLocatorBuilder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpHeaders;

/**
 * One Spring Cloud Gateway route per backend. A route matches only requests that the guards sent
 * to its backend (whose request, a {@link ForwardedRequest}, no longer carries the client's
 * credentials) and, when configured, adds the backend's own.
 */
@Configuration(proxyBeanMethods = false)
public class GatewayRoutesConfiguration {

    @Bean
    RouteLocator backendRoutes(RouteLocatorBuilder builder, RoutingProperties properties) {
        RouteLocatorBuilder.Builder routes = builder.routes();
        for (Map.Entry<String, RoutingProperties.BackendProperties> e : properties.backends().entrySet()) {
            String id = e.getKey();
            RoutingProperties.BackendProperties backend = e.getValue();
            if (backend.uri() == null || backend.uri().isBlank()) {
                throw new IllegalStateException("usage-guard.backends." + id + ".uri is not set");
            }
            routes.route(id, r -> r
                    .path("/v1/**")
                    .and().predicate(exchange -> id.equals(exchange.getAttribute(ModelRoutingFilter.BACKEND_ATTR)))
                    .filters(f -> {
                        if (backend.apiKey() != null && !backend.apiKey().isBlank()) {
                            f.setRequestHeader(HttpHeaders.AUTHORIZATION, "Bearer " + backend.apiKey());
                        }
                        return f;
                    })
                    // SCG's wait for response headers; the exact per-call timeouts are BackendProtectionFilter's
                    .metadata("response-timeout", Math.max(backend.timeout().toMillis(),
                            backend.firstByteTimeout().toMillis()))
                    .uri(backend.uri()));
        }
        return routes.build();
    }
}
