package io.usageguard.pipeline;

import java.net.InetSocketAddress;

import org.springframework.boot.web.server.context.WebServerInitializedEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;

/**
 * Knows which port is the public API port, so that the guards never run on the management port
 * (whose child context sees the parent's web filters) and the admin API is never on the public one.
 */
@Component
public class PublicPort implements ApplicationListener<WebServerInitializedEvent> {

    private volatile int port = -1;

    @Override
    public void onApplicationEvent(WebServerInitializedEvent event) {
        String namespace = event.getApplicationContext().getServerNamespace();
        if (namespace == null || namespace.isEmpty() || "server".equals(namespace)) {
            port = event.getWebServer().getPort();
        }
    }

    public int port() {
        return port;
    }

    public boolean isPublic(ServerWebExchange exchange) {
        InetSocketAddress local = exchange.getRequest().getLocalAddress();
        int p = port;
        return local == null || p < 0 || local.getPort() == p;
    }
}
