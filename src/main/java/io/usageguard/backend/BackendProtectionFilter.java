package io.usageguard.backend;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import io.usageguard.routing.ModelRoute;
import io.usageguard.routing.ModelRoutingFilter;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ResponseStatusException;
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
 * The bulkhead slot is freed when the call ends in any way, cancellation included.
 */
@Component
public class BackendProtectionFilter implements GuardFilter {

    private static final GuardRejection TIMEOUT = new GuardRejection(ErrorCode.UPSTREAM_TIMEOUT,
            "The model backend did not answer in time.");
    private static final GuardRejection STREAM_TIMEOUT = new GuardRejection(ErrorCode.UPSTREAM_TIMEOUT,
            "The model backend did not start the stream in time.");

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
            lease.answered(status(response));
            return Mono.empty();
        });
        boolean stream = ctx.inference() != null && ctx.inference().stream();
        Mono<Void> call = Mono.defer(() -> chain.next(ctx));
        if (stream) {
            Duration firstByte = lease.properties().firstByteTimeout();
            // fires only while nothing of the body was written; a flowing stream is never cut
            call = call.timeout(Mono.delay(firstByte).flatMap(t -> response.isCommitted() ? Mono.never() : Mono.just(t)))
                    .onErrorMap(TimeoutException.class, e -> STREAM_TIMEOUT);
        } else {
            call = call.timeout(lease.properties().timeout())
                    .onErrorMap(TimeoutException.class, e -> TIMEOUT);
        }
        return call
                .onErrorMap(BackendProtectionFilter::isConnectionFault, e -> new GuardRejection(
                        ErrorCode.UPSTREAM_UNAVAILABLE, "The model backend closed the connection."))
                .doOnError(e -> {
                    if (isBackendFault(e)) {
                        lease.failed(e);
                    } else {
                        lease.abandoned();
                    }
                })
                .doOnCancel(lease::abandoned)
                .doOnSuccess(v -> lease.answered(status(response)))
                .doFinally(s -> lease.release());
    }

    private static int status(ServerHttpResponse response) {
        HttpStatusCode status = response.getStatusCode();
        return status == null ? 200 : status.value();
    }

    /** Socket-level failures talking to the backend (not timeouts, not HTTP answers). */
    private static boolean isConnectionFault(Throwable e) {
        if (e instanceof GuardRejection || e instanceof ResponseStatusException) {
            return false;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getClass().getSimpleName().equals("AbortedException")) {
                return false; // the client's connection, not the backend's
            }
            if (t instanceof IOException) {
                return true; // connection refused, reset, closed before the answer (PrematureCloseException)
            }
        }
        return false;
    }

    /** Whether an error says something about the backend's health (else, e.g. an unknown URL, it does not). */
    private static boolean isBackendFault(Throwable e) {
        if (e instanceof GuardRejection r) {
            return r.code() == ErrorCode.UPSTREAM_TIMEOUT || r.code() == ErrorCode.UPSTREAM_UNAVAILABLE;
        }
        if (e instanceof ResponseStatusException rse) {
            return rse.getStatusCode().is5xxServerError();
        }
        return false;
    }
}
