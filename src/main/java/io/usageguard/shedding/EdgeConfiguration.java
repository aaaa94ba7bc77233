package io.usageguard.shedding;

import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Bounds how long a client may take
 * to send a request body on the Netty server (slow clients are disconnected, not waited for).
 */
@Configuration(proxyBeanMethods = false)
public class EdgeConfiguration {

    @Bean
    WebServerFactoryCustomizer<NettyReactiveWebServerFactory> requestBodyTimeout(RequestEdgeProperties properties) {
        // from the request's headers to the last byte of its body; the connection is closed after it
        return factory -> factory.addServerCustomizers(server -> server.requestTimeout(properties.bodyTimeout()));
    }
}
