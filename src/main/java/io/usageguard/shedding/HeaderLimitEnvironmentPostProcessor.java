package io.usageguard.shedding;

import java.util.Map;

import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;
import org.springframework.util.unit.DataSize;

/**
 * Sets Netty's header decoder limit ({@code server.max-http-request-header-size}) a little above the
 * gateway's own {@code usage-guard.request.max-header-size}, unless the operator set it. Headers
 * between the two reach the first guard, which answers 431 with the contract's JSON; only headers
 * past the decoder's limit get reactor-netty's bare answer (docs/robustness.md). Registered in
 * META-INF/spring.factories; the value is a default, at the lowest precedence.
 */
public class HeaderLimitEnvironmentPostProcessor implements EnvironmentPostProcessor {

    static final String DECODER_PROPERTY = "server.max-http-request-header-size";

    @Override
    public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
        if (environment.containsProperty(DECODER_PROPERTY)) {
            return;
        }
        DataSize limit = Binder.get(environment).bind("usage-guard.request.max-header-size", DataSize.class)
                .orElse(DataSize.ofKilobytes(16));
        long decoder = limit.toBytes() + RequestEdgeProperties.DECODER_SLACK.toBytes();
        environment.getPropertySources().addLast(new MapPropertySource("usage-guard-header-decoder",
                Map.of(DECODER_PROPERTY, decoder + "B")));
    }
}
