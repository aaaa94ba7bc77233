package io.usageguard.authlimit;

import java.time.Duration;

import io.usageguard.core.ErrorCode;
import io.usageguard.core.ErrorResponses;
import io.usageguard.core.GuardRejection;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Runs right after the client address is known and before the key is looked at: an address that
 * sent too many invalid keys gets 429 {@code rate_limit_exceeded} with Retry-After, and its key is
 * neither checked nor looked up.
 */
@Component
public class AuthFailureFilter implements GuardFilter {

    private final FailedAuthenticationLimiter limiter;

    public AuthFailureFilter(FailedAuthenticationLimiter limiter) {
        this.limiter = limiter;
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        Duration wait = limiter.blockedFor(ctx.clientIp());
        if (wait != null) {
            return Mono.error(new GuardRejection(ErrorCode.RATE_LIMIT_EXCEEDED,
                    "Too many requests with invalid API keys from your IP address. Try again in "
                            + ErrorResponses.retryAfterSeconds(wait) + " seconds.", wait));
        }
        return chain.next(ctx);
    }
}
