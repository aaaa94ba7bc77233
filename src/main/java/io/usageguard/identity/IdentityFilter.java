package io.usageguard.identity;

import java.time.Clock;
import java.time.Instant;
import java.util.Optional;

import io.usageguard.core.Cidr;
import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.core.Scalars;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.http.HttpHeaders;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Authenticates the API key: present, well-formed (a bad checksum is refused without a lookup),
 * known, not revoked, not expired, not suspended, and used from an allowed network. The key text is
 * hashed at once and never stored, logged or echoed.
 */
@Component
public class IdentityFilter implements GuardFilter {

    static final String SUSPECTED_TRANSFER = "suspected_transfer";

    private static final GuardRejection MISSING = new GuardRejection(ErrorCode.MISSING_API_KEY,
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header.");
    private static final GuardRejection INVALID = new GuardRejection(ErrorCode.INVALID_API_KEY,
            "Incorrect API key provided.");
    private static final GuardRejection REVOKED = new GuardRejection(ErrorCode.API_KEY_REVOKED,
            "This API key has been revoked.");

    private final KeyCache keys;
    private final Clock clock;
    private final FailedAuthentications failures;

    public IdentityFilter(KeyCache keys, Clock clock, FailedAuthentications failures) {
        this.keys = keys;
        this.clock = clock;
        this.failures = failures;
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        String key = credentials(ctx.exchange().getRequest());
        if (key == null) {
            return Mono.error(MISSING);
        }
        if (ApiKeyFormat.classify(key) == ApiKeyFormat.Shape.MALFORMED) {
            failures.record(ctx);
            return Mono.error(INVALID);
        }
        Mono<Optional<ApiKey>> found = keys.findByHash(ApiKeyFormat.hash(key));
        if (Scalars.isKnown(found)) { // from the cache: no operators
            return check(ctx, chain, Scalars.value(found));
        }
        return found.flatMap(f -> check(ctx, chain, f));
    }

    private Mono<Void> check(GuardContext ctx, GuardChain chain, Optional<ApiKey> found) {
        if (found.isEmpty()) {
            failures.record(ctx);
            return Mono.error(INVALID);
        }
        ApiKey key = found.get();
        Instant now = clock.instant();
        if (key.status() == KeyStatus.REVOKED) {
            return Mono.error(REVOKED);
        }
        if (key.expiredAt(now)) {
            return Mono.error(new GuardRejection(ErrorCode.API_KEY_EXPIRED,
                    "This API key expired at " + key.expiresAt() + "."));
        }
        if (key.status() == KeyStatus.SUSPENDED) {
            return Mono.error(new GuardRejection(ErrorCode.API_KEY_SUSPENDED, suspendedMessage(key)));
        }
        if (!key.allowedCidrs().isEmpty() && !Cidr.anyContains(key.allowedCidrs(), ctx.clientIp())) {
            return Mono.error(new GuardRejection(ErrorCode.IP_NOT_ALLOWED,
                    "This API key may not be used from your IP address"
                            + (ctx.clientIp() == null ? "" : " (" + ctx.clientIp().getHostAddress() + ")") + "."));
        }
        ctx.key(key);
        return chain.next(ctx);
    }

    public static String suspendedMessage(ApiKey key) {
        if (SUSPECTED_TRANSFER.equals(key.statusReason())) {
            return "This API key is suspended: it appears to be used by more than one party, and API keys may not"
                    + " be bought, sold or transferred (agreement §2.2.3). Contact support, or create a new key"
                    + " for your own use.";
        }
        return "This API key is suspended. Contact support for details.";
    }

    /** {@code Authorization: Bearer <key>}, else {@code x-api-key}. */
    static String credentials(ServerHttpRequest request) {
        HttpHeaders headers = request.getHeaders();
        String auth = headers.getFirst(HttpHeaders.AUTHORIZATION);
        if (auth != null) {
            if (auth.length() > 7 && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
                String key = auth.substring(7).trim();
                return key.isEmpty() ? null : key;
            }
            return auth.isBlank() ? null : "\u0000"; // another scheme: malformed, never looked up
        }
        String apiKey = headers.getFirst("x-api-key");
        return apiKey == null || apiKey.isBlank() ? null : apiKey.trim();
    }
}
