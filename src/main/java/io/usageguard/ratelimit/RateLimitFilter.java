package io.usageguard.ratelimit;

import java.time.Duration;
import java.util.Optional;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import io.usageguard.routing.InferenceRequest;
import io.usageguard.routing.ModelRoute;
import io.usageguard.state.StateProperties;
import io.usageguard.state.StoreCircuit;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SignalType;
import reactor.core.scheduler.Schedulers;

/**
 * Rate limits (contract §3): per account and model by the account's tier, the seven windows,
 * requests in flight, the optional per-key cap and the model's global ceiling. Everything that
 * applies is asked of the store at once; if any limit refuses, whatever the others granted is given
 * back, so a refused request consumes nothing. In shadow mode nothing is refused and the would-be
 * refusal is left in {@link GuardContext#shadowRejection}. Every response of a limited request
 * carries the {@code x-ratelimit-*}, {@code RateLimit-Policy} and {@code RateLimit} headers.
 * When the response is over, concurrency slots are freed and the token reservation is reconciled
 * with the usage the backend reported ({@link GuardContext#usage()}).
 */
@Component
public class RateLimitFilter implements GuardFilter {

    static final String IMAGES_PATH = "/v1/images/generations";

    private final LimitsConfig config;
    private final LimitStores stores;
    private final StateProperties state;
    private final ObjectProvider<LimitAdjustments> adjustments;
    private final MeterRegistry registry;
    private final String prefix;
    private final String replicaId = UUID.randomUUID().toString().substring(0, 8);
    private final AtomicLong leaseCounter = new AtomicLong();
    private final Map<String, Counter> refusals = new ConcurrentHashMap<>();

    public RateLimitFilter(LimitsConfig config, LimitStores stores, StateProperties state,
                           ObjectProvider<LimitAdjustments> adjustments, MeterRegistry registry) {
        this.config = config;
        this.stores = stores;
        this.state = state;
        this.adjustments = adjustments;
        this.registry = registry;
        this.prefix = state.redis().keyPrefix() + "rl:";
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        ModelRoute route = ctx.route();
        InferenceRequest inference = ctx.inference();
        if (route == null || inference == null || ctx.account() == null) {
            return chain.next(ctx);
        }
        ResolvedLimits limits = config.current().resolve(ctx.account().tier(), route.entry().glob());
        if (limits.isEmpty()) {
            return chain.next(ctx);
        }
        LimitAdjustments adjust = adjustments();
        double factor = adjust == null || ctx.key() == null ? 1.0 : adjust.keyFactor(ctx.key());
        Admission admission = plan(ctx, limits, factor);
        StoreCircuit circuit = stores.circuit();
        if (circuit == null) {
            return run(ctx, chain, admission, stores.primary());
        }
        if (!circuit.tryAcquire()) {
            return onStoreFailure(ctx, chain, admission);
        }
        long start = System.nanoTime();
        java.util.concurrent.CompletableFuture<Void> answered;
        try {
            answered = admission.run(stores.primary());
        } catch (RuntimeException e) {
            answered = java.util.concurrent.CompletableFuture.failedFuture(e);
        }
        if (answered.isDone() && !answered.isCompletedExceptionally()) {
            // served from this replica's reserves (RedisReserves): decided here, no hop
            circuit.success(System.nanoTime() - start);
            return decide(ctx, chain, admission);
        }
        // Redis answers on Lettuce's I/O thread: the request goes back to its own connection's event
        // loop, so that thread stays free for the next answers (else they time out under load)
        java.util.concurrent.Executor back = requestThread(ctx);
        java.util.concurrent.CompletableFuture<Void> result = answered;
        return Mono.<Void>create(sink -> result.whenComplete((v, e) -> {
                    Runnable resume = () -> {
                        if (e != null) {
                            sink.error(e);
                        } else {
                            sink.success();
                        }
                    };
                    try {
                        back.execute(resume);
                    } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
                        resume.run();
                    }
                }))
                .then(Mono.defer(() -> {
                    circuit.success(System.nanoTime() - start);
                    return decide(ctx, chain, admission);
                }))
                .onErrorResume(e -> !(e instanceof GuardRejection) && admission.store == stores.primary()
                        && !admission.decided, e -> {
                    circuit.failure(System.nanoTime() - start, e);
                    admission.undo();
                    return onStoreFailure(ctx, chain, admission);
                });
    }

    /** The event loop of the request's connection; a worker thread when there is none (not served by Netty). */
    private static java.util.concurrent.Executor requestThread(GuardContext ctx) {
        if (io.usageguard.core.NativeRequests.of(ctx.exchange().getRequest()) instanceof reactor.netty.Connection connection) {
            return connection.channel().eventLoop();
        }
        return WORKER;
    }

    private static final java.util.concurrent.Executor WORKER = r -> Schedulers.parallel().schedule(r);

    /** Resolved once: a bean lookup by type on every request costs microseconds. */
    private LimitAdjustments adjustments() {
        Optional<LimitAdjustments> a = resolvedAdjustments;
        if (a == null) {
            a = Optional.ofNullable(adjustments.getIfAvailable());
            resolvedAdjustments = a;
        }
        return a.orElse(null);
    }

    private volatile Optional<LimitAdjustments> resolvedAdjustments;

    private Mono<Void> run(GuardContext ctx, GuardChain chain, Admission admission, LimitStore store) {
        java.util.concurrent.CompletableFuture<Void> answered = admission.run(store);
        if (answered.isDone() && !answered.isCompletedExceptionally()) {
            return decide(ctx, chain, admission); // the local store answers at once: no operators needed
        }
        return Mono.fromFuture(answered).then(Mono.defer(() -> decide(ctx, chain, admission)));
    }

    private Mono<Void> onStoreFailure(GuardContext ctx, GuardChain chain, Admission failed) {
        if (failed.limits.mode() == LimitMode.SHADOW) {
            return chain.next(ctx); // shadow mode never refuses, not even for a dead store
        }
        return switch (state.onStoreFailure()) {
            case FAIL_OPEN -> chain.next(ctx);
            case FAIL_CLOSED -> Mono.error(new GuardRejection(ErrorCode.OVERLOADED,
                    "The gateway cannot check rate limits right now. Retry shortly.", Duration.ofSeconds(1)));
            case LOCAL_FALLBACK -> {
                Admission share = plan(ctx, failed.limits.divided(Math.max(1, state.redis().replicas())), failed.keyFactor);
                yield run(ctx, chain, share, stores.fallback());
            }
        };
    }

    private Mono<Void> decide(GuardContext ctx, GuardChain chain, Admission admission) {
        admission.decided = true;
        boolean refused = admission.refused();
        GuardRejection rejection = refused ? admission.rejection() : null;
        boolean shadow = admission.limits.mode() == LimitMode.SHADOW;
        if (rejection != null) {
            count(admission, rejection, shadow);
        }
        if (refused && !shadow) {
            admission.undo();
        }
        ServerHttpResponse response = ctx.exchange().getResponse();
        response.beforeCommit(() -> {
            RateLimitHeaders.apply(response.getHeaders(), admission);
            return Mono.empty();
        });
        if (rejection != null) {
            if (!shadow) {
                return Mono.error(rejection);
            }
            ctx.shadowRejection(rejection.code());
        }
        ctx.onEnd(signal -> {
            HttpStatusCode status = response.getStatusCode();
            boolean succeeded = signal == SignalType.ON_COMPLETE && status != null && status.is2xxSuccessful()
                    && ctx.error() == null;
            admission.finish(ctx.usage(), succeeded);
        });
        return chain.next(ctx);
    }

    private void count(Admission admission, GuardRejection rejection, boolean shadow) {
        String limit = rejection.code() == ErrorCode.CONCURRENCY_LIMIT_EXCEEDED ? "concurrency" : limitOf(admission);
        String key = limit + '|' + shadow;
        refusals.computeIfAbsent(key, k -> Counter.builder("usage_guard_rate_limit_refusals")
                .description("Requests a rate limit refused (mode=enforce) or would have refused (mode=shadow)")
                .tag("limit", limit).tag("mode", shadow ? "shadow" : "enforce").register(registry)).increment();
    }

    /** The window id of the refusing bucket's worst window, e.g. {@code rpm}, {@code key_tpm}, {@code global_rpm}. */
    private static String limitOf(Admission a) {
        Admission.Use worst = null;
        for (Admission.Use use : a.uses) {
            if (use.result != null && !use.result.consumed()
                    && (worst == null || Long.compareUnsigned(use.result.nanosToWait(), worst.result.nanosToWait()) > 0)) {
                worst = use;
            }
        }
        if (worst == null) {
            return "concurrency";
        }
        String p = worst.spec.scope() == Scope.ACCOUNT ? "" : worst.spec.scope().label() + "_";
        Window w = worst.spec.windows()[0];
        long[] avail = worst.result.available();
        for (int i = 0; i < worst.spec.windows().length; i++) {
            if (i >= avail.length || avail[i] < worst.amount) {
                w = worst.spec.windows()[i];
            }
        }
        return p + w.id();
    }

    /** What this request takes: one request, its token estimate (or images), one slot in each concurrency counter. */
    private Admission plan(GuardContext ctx, ResolvedLimits limits, double factor) {
        InferenceRequest inference = ctx.inference();
        ModelRoute route = ctx.route();
        boolean imagesRequest = IMAGES_PATH.equals(ctx.exchange().getRequest().getPath().value());
        int n = Math.max(1, inference.n() == null ? 1 : inference.n());
        long images = imagesRequest ? n : 0;
        long tokens = imagesRequest ? 0 : tokenEstimate(ctx, inference, route, n);
        String keyId = ctx.key() == null ? null : ctx.key().id();
        String accountId = ctx.account().id();
        String glob = route.entry().glob();
        Scopes scopes = new Scopes(LimitKey.account(prefix, accountId, glob),
                keyId == null ? null : LimitKey.key(prefix, accountId, glob, keyId), LimitKey.global(prefix, glob));
        boolean throttled = factor < 1.0 && keyId != null;

        BucketSpec[] specs = limits.specs();
        Admission.Use[] uses = new Admission.Use[specs.length + (throttled ? 2 : 0)];
        int u = 0;
        for (BucketSpec spec : specs) {
            u = addUse(uses, u, spec, scopes, tokens, images, factor);
        }
        if (throttled) {
            u = addUse(uses, u, limits.keyRequestsDerived(), scopes, tokens, images, factor);
            u = addUse(uses, u, limits.keyTokensDerived(), scopes, tokens, images, factor);
        }
        if (u < uses.length) {
            uses = java.util.Arrays.copyOf(uses, u);
        }

        int keyConcurrency = limits.keyConcurrency() >= 0 ? limits.keyConcurrency()
                : throttled ? limits.accountConcurrency() : -1;
        boolean account = limits.accountConcurrency() >= 0;
        boolean key = keyConcurrency >= 0 && scopes.key() != null;
        boolean global = limits.globalConcurrency() >= 0;
        Admission.LeaseGroup[] groups = new Admission.LeaseGroup[(account || key ? 1 : 0) + (global ? 1 : 0)];
        int g = 0;
        if (account && key) {
            groups[g++] = new Admission.LeaseGroup(new LimitKey[]{scopes.account(), scopes.key()},
                    new int[]{limits.accountConcurrency(), keyCap(keyConcurrency, factor)});
        } else if (account) {
            groups[g++] = new Admission.LeaseGroup(new LimitKey[]{scopes.account()},
                    new int[]{limits.accountConcurrency()});
        } else if (key) {
            groups[g++] = new Admission.LeaseGroup(new LimitKey[]{scopes.key()},
                    new int[]{keyCap(keyConcurrency, factor)});
        }
        if (global) {
            groups[g] = new Admission.LeaseGroup(new LimitKey[]{scopes.global()},
                    new int[]{limits.globalConcurrency()});
        }
        return new Admission(limits, factor, route.model(), tokens, images, uses, groups,
                replicaId, leaseCounter.incrementAndGet());
    }

    private static int keyCap(int keyConcurrency, double factor) {
        return factor >= 1.0 ? keyConcurrency : (int) Math.floor(keyConcurrency * Math.max(0, factor));
    }

    /** The three scopes of one request's limits (the key's is null without a key). */
    private record Scopes(LimitKey account, LimitKey key, LimitKey global) {

        LimitKey of(Scope scope) {
            return switch (scope) {
                case ACCOUNT -> account;
                case KEY -> key;
                case GLOBAL -> global;
            };
        }
    }

    private static int addUse(Admission.Use[] uses, int at, BucketSpec spec, Scopes scopes,
                              long tokens, long images, double factor) {
        if (spec == null) {
            return at;
        }
        long amount = switch (spec.unit()) {
            case REQUESTS -> 1;
            case TOKENS -> tokens;
            case IMAGES -> images;
        };
        if (amount <= 0) {
            return at;
        }
        LimitKey key = scopes.of(spec.scope());
        if (key == null) {
            return at;
        }
        if (spec.scope() == Scope.KEY) {
            amount = Admission.scaled(amount, factor);
        }
        uses[at] = new Admission.Use(spec, key, amount);
        return at + 1;
    }

    /**
     * Prompt tokens (the usage guard's estimate; characters ÷ 4 + 1 when it has none) plus the
     * completion tokens the request may produce ({@code max_tokens}, else the model's
     * {@code max-tokens-default}) for each of its {@code n} choices.
     */
    static long tokenEstimate(GuardContext ctx, InferenceRequest inference, ModelRoute route, int n) {
        long prompt = ctx.promptTokenEstimate();
        if (prompt < 0) {
            prompt = inference.promptChars() / 4 + 1;
        }
        long completion = inference.maxTokens() != null ? inference.maxTokens() : route.entry().maxTokensDefault();
        return prompt + completion * n;
    }
}
