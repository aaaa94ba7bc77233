package usageguardbench;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.flyway.autoconfigure.FlywayAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.cloud.gateway.route.RouteLocator;
import org.springframework.cloud.gateway.route.builder.RouteLocatorBuilder;
import org.springframework.context.annotation.Bean;

/**
 * The benchmark's baseline: the same Spring Cloud Gateway, same JVM, one plain route to the same
 * backend, and none of Usage Guard's restrictions. Not part of the product. Its package lies outside
 * {@code io.usageguard} so the application's component scan never sees it.
 */
@SpringBootConfiguration
@EnableAutoConfiguration(exclude = {DataSourceAutoConfiguration.class, FlywayAutoConfiguration.class})
public class BareGatewayApplication {

    public static void main(String[] args) {
        SpringApplication app = new SpringApplication(BareGatewayApplication.class);
        app.setAdditionalProfiles("bare");
        app.run(args);
    }

    @Bean
    RouteLocator bareRoute(RouteLocatorBuilder builder, @Value("${bench.backend}") String backend) {
        return builder.routes().route("bare", r -> r.path("/v1/**").uri(backend)).build();
    }
}
