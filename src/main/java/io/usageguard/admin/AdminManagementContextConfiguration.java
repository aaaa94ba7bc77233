package io.usageguard.admin;

import org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextType;
import org.springframework.context.annotation.Bean;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

/**
 * Loaded only into the management port's child context (registered in
 * {@code META-INF/spring/...ManagementContextConfiguration.imports}, excluded from component
 * scanning), so the admin API exists on {@code management.server.port} and nowhere else. When the
 * management port equals the API port there is no child context and no admin API.
 */
@ManagementContextConfiguration(value = ManagementContextType.CHILD, proxyBeanMethods = false)
public class AdminManagementContextConfiguration {

    @Bean
    AdminTokenFilter adminTokenFilter(AdminProperties properties) {
        return new AdminTokenFilter(properties);
    }

    @Bean
    RouterFunction<ServerResponse> adminRoutes(AdminService admin) {
        return new AdminEndpoints(admin).routes();
    }
}
