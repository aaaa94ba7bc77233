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
            // the backend chosen by the guards: only ever set on a POST to /v1/... (RequestBodyFilter reads
            // those alone), so no path predicate, whose matching and template variables cost per request
            routes.route(id, r -> r
                    .predicate(exchange -> id.equals(exchange.getAttribute(ModelRoutingFilter.BACKEND_ATTR)))
                    .filters(f -> {
                        if (backend.apiKey() != null && !backend.apiKey().isBlank()) {
                            f.setRequestHeader(HttpHeaders.AUTHORIZATION, "Bearer " + backend.apiKey());
                        }
                        return f;
                    })
                    // no SCG response-timeout: BackendProtectionFilter's timer always fires first, and a
                    // second timer per request (Reactor's timer pool, three operators) would never act
                    .uri(backend.uri()));
        }
        return routes.build();
    }
}
