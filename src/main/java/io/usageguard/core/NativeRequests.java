package io.usageguard.core;

import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;

/** The server's own request object behind Spring's (reactor-netty's {@code HttpServerOperations}). */
public final class NativeRequests {

    private NativeRequests() {
    }

    /** The native request, or null when the request was not served by a server (tests, benchmarks). */
    public static Object of(ServerHttpRequest request) {
        try {
            return ServerHttpRequestDecorator.getNativeRequest(request);
        } catch (IllegalStateException e) {
            return null; // a mock request
        }
    }
}
