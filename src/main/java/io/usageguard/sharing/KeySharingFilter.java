package io.usageguard.sharing;

import io.usageguard.core.Scalars;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Counts the request's client network ({@code ctx.clientIp()}, which honours X-Forwarded-For only
 * from trusted proxies) and User-Agent family for its key, after the key, account, model and
 * verification checks passed. Refuses with 403 {@code api_key_suspended} the request that crosses
 * {@code block-networks} under {@code suspend}, and every later one.
 */
@Component
public class KeySharingFilter implements GuardFilter {

    private final KeySharingMonitor monitor;

    public KeySharingFilter(KeySharingMonitor monitor) {
        this.monitor = monitor;
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        Mono<Boolean> refuse = monitor.onRequest(ctx.key(), ctx.clientIp(),
                ctx.exchange().getRequest().getHeaders().getFirst(HttpHeaders.USER_AGENT));
        if (Scalars.isKnown(refuse)) { // local state, or nothing new to count: decided in memory
            if (Scalars.value(refuse)) {
                throw monitor.suspended(ctx.key());
            }
            return chain.next(ctx);
        }
        return refuse.flatMap(r -> r ? Mono.error(monitor.suspended(ctx.key())) : chain.next(ctx));
    }
}
