package io.usageguard.admin;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

import org.springframework.http.HttpHeaders;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * Guards {@code /admin/**} and {@code /actuator/refresh} (it reloads the configuration) on the
 * management port: {@code Authorization: Bearer <admin token>},
 * compared in constant time (digests of equal length, {@link MessageDigest#isEqual}). Without a
 * configured token every call is refused.
 */
public class AdminTokenFilter implements WebFilter {

    private final byte[] expected;

    public AdminTokenFilter(AdminProperties properties) {
        String token = properties.token();
        this.expected = token == null || token.isBlank() ? null : digest(token);
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        String path = exchange.getRequest().getPath().value();
        if (!path.startsWith("/admin") && !path.startsWith("/actuator/refresh")) {
            return chain.filter(exchange); // health probes and Prometheus stay open to the cluster
        }
        String auth = exchange.getRequest().getHeaders().getFirst(HttpHeaders.AUTHORIZATION);
        boolean ok = false;
        if (expected != null && auth != null && auth.length() > 7 && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            ok = MessageDigest.isEqual(expected, digest(auth.substring(7).trim()));
        }
        if (!ok) {
            return AdminEndpoints.error(exchange.getResponse(), AdminException.unauthorized());
        }
        return chain.filter(exchange);
    }

    private static byte[] digest(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
