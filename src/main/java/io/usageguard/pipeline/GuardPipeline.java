package io.usageguard.pipeline;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

import io.usageguard.account.AccountPolicyFilter;
import io.usageguard.authlimit.AuthFailureFilter;
import io.usageguard.backend.BackendProtectionFilter;
import io.usageguard.clientip.ClientIpFilter;
import io.usageguard.core.CompletionSubscriber;
import io.usageguard.core.ErrorResponses;
import io.usageguard.core.GuardRejection;
import io.usageguard.core.JsonErrorWebExceptionHandler;
import io.usageguard.identity.IdentityFilter;
import io.usageguard.ratelimit.RateLimitFilter;
import io.usageguard.routing.ForwardedRequest;
import io.usageguard.routing.ModelRoutingFilter;
import io.usageguard.routing.RequestBodyFilter;
import io.usageguard.usage.UsageFilter;
import io.usageguard.sharing.KeySharingFilter;
import io.usageguard.shedding.LoadSheddingFilter;
import io.usageguard.verification.VerificationFilter;
import org.springframework.core.Ordered;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SignalType;

/**
 * The path of every request on the public port, top to bottom. Each guard lives in the package of
 * the restriction it enforces; this is the one place that says in which order they run. A guard
 * that refuses ends the request with the contract's JSON error; a request that passes them all goes
 * on to Spring Cloud Gateway, whose route for the chosen backend proxies it.
 */
@Component
public class GuardPipeline implements WebFilter, Ordered {

    public static final String REQUEST_ID_HEADER = "x-request-id";

    private final PublicPort publicPort;
    private final GuardFilter[] guards;
    private final LoadSheddingFilter loadShedding;
    private final RequestObserver[] observers;

    public GuardPipeline(PublicPort publicPort,
                         ClientIpFilter clientIp,
                         IdentityFilter identity,
                         AccountPolicyFilter accountPolicy,
                         RequestBodyFilter requestBody,
                         ModelRoutingFilter modelRouting,
                         VerificationFilter verification,
                         io.usageguard.observability.InflightRequests inflight,
                         AuthFailureFilter authFailureLimit,
                         KeySharingFilter keySharing,
                         UsageFilter usage,
                         RateLimitFilter rateLimits,
                         LoadSheddingFilter loadShedding,
                         BackendProtectionFilter backendProtection,
                         List<RequestObserver> observers) {
        this.publicPort = publicPort;
        this.observers = observers.toArray(RequestObserver[]::new);
        this.loadShedding = loadShedding;
        this.guards = List.of(
                loadShedding,      // header size (431), draining for shutdown, global in-flight ceiling (503)
                clientIp,          // who is calling: socket peer, X-Forwarded-For only via trusted proxies
                authFailureLimit,  // an address that sent too many invalid keys: 429 before any key lookup
                identity,          // API key: format, checksum, known, revoked/expired/suspended, IP allowlist
                accountPolicy,     // account: terminated, suspended, restricted (minor)
                requestBody,       // body read once under the size cap; model, stream, max_tokens
                modelRouting,      // model → backend (404), tier may use the model (403)
                inflight,          // usage_guard_inflight_requests{model}: counts from here to the response's end
                verification,      // real-name verification level, pending re-verification
                keySharing,        // key used from too many networks: observe, throttle or suspend (§2.2.3)
                usage,             // prompt token estimate; ask streams for usage; read usage from the answer
                rateLimits,        // tier/model limits: 7 windows, concurrency, per-key cap, global ceiling; x-ratelimit-* headers
                backendProtection  // healthy backend of the pool, breaker + bulkhead (503), timeouts (504)
        ).toArray(GuardFilter[]::new);
    }

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE + 100;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        if (!publicPort.isPublic(exchange)) {
            return chain.filter(exchange);
        }
        String requestId = requestId(exchange.getRequest());
        exchange.getResponse().getHeaders().set(REQUEST_ID_HEADER, requestId);
        GuardContext ctx = new GuardContext(exchange, requestId, System.nanoTime());
        exchange.getAttributes().put(GuardContext.ATTR, ctx);
        return new Guarded(ctx, new Chain(chain));
    }

    /**
     * The guards and everything after them, in one operator: a failure anywhere becomes the
     * contract's JSON answer, and when the request is over (answered, failed or cancelled) its end
     * hooks and observers run, once. It is {@code onErrorResume(refuse).doFinally(end)} without the
     * two subscribers per request; like {@code doFinally}, the end runs after the signal went on.
     */
    private final class Guarded extends Mono<Void> {

        private final GuardContext ctx;
        private final Chain chain;

        Guarded(GuardContext ctx, Chain chain) {
            this.ctx = ctx;
            this.chain = chain;
        }

        @Override
        public void subscribe(CoreSubscriber<? super Void> actual) {
            Run run = new Run(actual, ctx);
            actual.onSubscribe(run);
            Mono<Void> guarded;
            try {
                guarded = chain.next(ctx);
            } catch (Throwable e) {
                run.onError(e);
                return;
            }
            guarded.subscribe(run);
        }
    }

    private final class Run extends CompletionSubscriber {

        private final GuardContext ctx;
        private final AtomicBoolean ended = new AtomicBoolean();
        private boolean refusing;

        Run(CoreSubscriber<? super Void> actual, GuardContext ctx) {
            super(actual);
            this.ctx = ctx;
        }

        @Override
        public void onError(Throwable e) {
            if (refusing || isCancelled()) {
                actual.onError(e);
                end(SignalType.ON_ERROR);
                return;
            }
            refusing = true;
            Mono<Void> refusal;
            try {
                refusal = refuse(ctx, loadShedding.translate(ctx, e));
            } catch (Throwable t) {
                actual.onError(t);
                end(SignalType.ON_ERROR);
                return;
            }
            refusal.subscribe(this);
        }

        @Override
        public void onComplete() {
            actual.onComplete();
            end(SignalType.ON_COMPLETE);
        }

        @Override
        public void cancel() {
            cancelUpstream();
            end(SignalType.CANCEL);
        }

        private void end(SignalType signal) {
            if (ended.compareAndSet(false, true)) {
                ctx.ended(signal);
                complete(ctx, signal == SignalType.CANCEL || ctx.isClientCancelled());
            }
        }
    }

    /** Every failure leaves here as the contract's JSON, so observers see the final status and code. */
    private static Mono<Void> refuse(GuardContext ctx, Throwable e) {
        GuardRejection rejection = JsonErrorWebExceptionHandler.classify(ctx.exchange(), e);
        ctx.decided(System.nanoTime() - ctx.startNanos());
        if (ctx.exchange().getResponse().isCommitted()) {
            return Mono.error(e); // mid-stream: nothing left to say to the client
        }
        ctx.error(rejection.code());
        if (rejection.code() == io.usageguard.core.ErrorCode.INTERNAL_ERROR) {
            JsonErrorWebExceptionHandler.logUnexpected(ctx.requestId(), e);
        }
        return ErrorResponses.write(ctx.exchange().getResponse(), rejection);
    }

    private void complete(GuardContext ctx, boolean cancelled) {
        if (observers.length == 0) {
            return;
        }
        var status = ctx.exchange().getResponse().getStatusCode();
        RequestEnd end = new RequestEnd(status == null ? 0 : status.value(), ctx.error(), cancelled,
                System.nanoTime() - ctx.startNanos());
        for (RequestObserver o : observers) {
            try {
                o.onComplete(ctx, end);
            } catch (RuntimeException ex) {
                org.slf4j.LoggerFactory.getLogger(GuardPipeline.class)
                        .warn("request observer {} failed", o.getClass().getSimpleName(), ex);
            }
        }
    }

    private final class Chain implements GuardFilter.GuardChain {

        private final WebFilterChain rest;
        private int index;

        Chain(WebFilterChain rest) {
            this.rest = rest;
        }

        @Override
        public Mono<Void> next(GuardContext ctx) {
            if (index < guards.length) {
                GuardFilter guard = guards[index++];
                try {
                    return guard.filter(ctx, this);
                } catch (GuardRejection r) {
                    return Mono.error(r);
                }
            }
            ctx.decided(System.nanoTime() - ctx.startNanos());
            return rest.filter(forwarded(ctx));
        }
    }

    /**
     * The exchange Spring Cloud Gateway proxies, made once: the request as the backend gets it
     * (credentials stripped, request id set, the body that was read replayed) and the response
     * through the observer that reads usage from the answer.
     */
    private static ServerWebExchange forwarded(GuardContext ctx) {
        ServerWebExchange exchange = ctx.exchange();
        byte[] body = ctx.inference() == null ? null : ctx.inference().body();
        ServerWebExchange.Builder builder = exchange.mutate().request(new ForwardedRequest(exchange.getRequest(),
                REQUEST_ID_HEADER, ctx.requestId(), body, exchange.getResponse().bufferFactory()));
        if (ctx.observedResponse() != null) {
            builder.response(ctx.observedResponse());
        }
        ServerWebExchange forwarded = builder.build();
        ctx.exchange(forwarded);
        return forwarded;
    }

    /** The client's own id when it is sane (1–128 of [A-Za-z0-9._:-]); a fresh random one otherwise. */
    static String requestId(ServerHttpRequest request) {
        String given = request.getHeaders().getFirst(REQUEST_ID_HEADER);
        if (given != null && given.length() <= 128 && !given.isEmpty()) {
            boolean sane = true;
            for (int i = 0; i < given.length() && sane; i++) {
                char c = given.charAt(i);
                sane = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                        || c == '-' || c == '_' || c == '.' || c == ':';
            }
            if (sane) {
                return given;
            }
        }
        ThreadLocalRandom r = ThreadLocalRandom.current();
        return "req_" + Long.toHexString(r.nextLong() | Long.MIN_VALUE) + Long.toHexString(r.nextLong() | Long.MIN_VALUE);
    }
}
