package io.usageguard.backend;


import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import io.usageguard.routing.ModelRoute;
import io.usageguard.routing.ModelRoutingFilter;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * The last guard: picks a healthy backend of the model's pool, holds its bulkhead slot and breaker
 * permission for the whole call (everything after it, including Spring Cloud Gateway's proxying, runs
 * inside {@code chain.next}), and bounds the call in time:
 * <ul>
 * <li>non-streaming: the whole call (response fully written) within {@code timeout};</li>
 * <li>streaming: the first byte of the body within {@code first-byte-timeout}; once the stream
 * flows, no timeout cuts it.</li>
 * </ul>
 * The breaker learns the outcome when the response is committed (the backend's status is known
 * then: 5xx is a failure), or from the error when the call failed before that (timeout, connection
 * refused or reset). A client that goes away before the answer gives the permission back unjudged.
 * The bulkhead slot is freed when the call ends in any way, cancellation included. All of that is
 * one operator, {@link BackendCall}.
 */
@Component
public class BackendProtectionFilter implements GuardFilter {

    private final BackendPool pool;

    public BackendProtectionFilter(BackendPool pool) {
        this.pool = pool;
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        ModelRoute route = ctx.route();
        if (route == null) {
            return chain.next(ctx);
        }
        BackendPool.Lease lease = pool.acquire(route.entry().backends());
        if (!lease.backendId().equals(route.backendId())) {
            ctx.route(new ModelRoute(route.model(), route.entry(), lease.backendId()));
        }
        ctx.exchange().getAttributes().put(ModelRoutingFilter.BACKEND_ATTR, lease.backendId());
        ServerHttpResponse response = ctx.exchange().getResponse();
        response.beforeCommit(() -> {
            lease.answered(BackendCall.status(response));
            return Mono.empty();
        });
        boolean stream = ctx.inference() != null && ctx.inference().stream();
        return new BackendCall(ctx, chain, lease, stream,
                stream ? lease.properties().firstByteTimeout() : lease.properties().timeout());
    }
}
