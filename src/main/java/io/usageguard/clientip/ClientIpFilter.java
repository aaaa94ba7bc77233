package io.usageguard.clientip;

import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/** Records who is calling, for the key's IP allowlist, sharing detection and the failed-auth limit. */
@Component
public class ClientIpFilter implements GuardFilter {

    private final ClientIpResolver resolver;

    public ClientIpFilter(ClientIpResolver resolver) {
        this.resolver = resolver;
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        ctx.clientIp(resolver.resolve(ctx.exchange().getRequest()));
        return chain.next(ctx);
    }
}
