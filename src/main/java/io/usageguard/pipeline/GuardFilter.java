package io.usageguard.pipeline;

import reactor.core.publisher.Mono;

/**
 * One restriction. It either refuses (a {@link io.usageguard.core.GuardRejection}, thrown or
 * emitted) or passes the request on with {@code chain.next(ctx)}; it may wrap what follows, for
 * example to release a slot when the response ends. The order of all guards is written in one
 * place: {@link GuardPipeline}.
 */
@FunctionalInterface
public interface GuardFilter {

    Mono<Void> filter(GuardContext ctx, GuardChain chain);

    interface GuardChain {
        Mono<Void> next(GuardContext ctx);
    }
}
