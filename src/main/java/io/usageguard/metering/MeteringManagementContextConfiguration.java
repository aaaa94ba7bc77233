package io.usageguard.metering;

import org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextType;
import org.springframework.context.annotation.Bean;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

/**
 * The usage endpoint, in the management port's child context only (like the rest of the admin API,
 * whose token filter guards every {@code /admin} path there).
 */
@ManagementContextConfiguration(value = ManagementContextType.CHILD, proxyBeanMethods = false)
public class MeteringManagementContextConfiguration {

    @Bean
    RouterFunction<ServerResponse> usageRoutes(UsageReports reports) {
        return new UsageEndpoint(reports).routes();
    }
}
