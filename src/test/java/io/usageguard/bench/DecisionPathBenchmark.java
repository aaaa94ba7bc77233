package io.usageguard.bench;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.account.AccountPolicyFilter;
import io.usageguard.identity.IdentityFilter;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import io.usageguard.pipeline.GuardPipeline;
import io.usageguard.ratelimit.RateLimitFilter;
import io.usageguard.routing.InferenceRequest;
import io.usageguard.routing.ModelRoute;
import io.usageguard.sharing.KeySharingFilter;
import io.usageguard.usage.UsageFilter;
import io.usageguard.verification.VerificationFilter;
import io.usageguard.testsupport.GatewayInstance;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.springframework.http.MediaType;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.http.codec.ServerCodecConfigurer;
import org.springframework.mock.http.server.reactive.MockServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.adapter.DefaultServerWebExchange;
import org.springframework.web.server.i18n.AcceptHeaderLocaleContextResolver;
import org.springframework.web.server.session.DefaultWebSessionManager;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SignalType;

/**
 * The per-request decision path, on the real, running application's beans.
 * <ul>
 * <li>{@code decisionPath}: the issue's decision path, the guards that decide on a parsed request —
 * key from the cache (hash, lookup, status, allowlist), account checks, verification, the sharing
 * signal, the token estimate and every bucket and concurrency counter (plus, when the request is
 * over, the release of its slots and the reconciliation of its tokens) — on a fresh exchange and
 * context; {@code contextOnly} builds the same exchange and context: the difference is the cost.</li>
 * <li>{@code decide}: the whole {@link GuardPipeline} (all guards, including header accounting, body
 * read and parse, routing, backend selection with breaker and bulkhead, and the observers: metering,
 * metrics, access log) with a terminal chain that does not proxy; {@code baseline} builds the same
 * exchange and runs only the terminal chain.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class DecisionPathBenchmark {

    static final String BODY = "{\"model\":\"test-model\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\","
            + "\"content\":\"Say hello to the benchmark in one short sentence please.\"}]}";
    static final WebFilterChain TERMINAL = exchange -> Mono.empty();
    static final InetSocketAddress CLIENT = new InetSocketAddress("198.51.100.23", 50000);

    @Param({"local"})
    public String store;

    StubInferenceServer backend;
    GatewayInstance gateway;
    GuardPipeline pipeline;
    String key;

    @Setup(Level.Trial)
    public void start() {
        backend = StubInferenceServer.start();
        GatewayInstance.Builder b = GatewayInstance.builder(backend.uri())
                .property("logging.level.root", "WARN")
                .property("usage-guard.state.store", store);
        BenchConfig.generousLimits(b);
        if ("redis".equals(store)) {
            b.property("usage-guard.state.redis.key-prefix", "ugbench:" + System.nanoTime() + ":");
        }
        gateway = b.start();
        gateway.account("bench", "L1", "INDIVIDUAL");
        key = gateway.issueKey("bench").key();
        pipeline = gateway.bean(GuardPipeline.class);
        decisionGuards();
    }

    @TearDown(Level.Trial)
    public void stop() {
        gateway.close();
        backend.close();
    }

    // shared by every exchange: MockServerWebExchange.from(..) would build a codec configurer (and a JSON
    // mapper) per exchange, which costs more than the whole decision
    static final ServerCodecConfigurer CODECS = ServerCodecConfigurer.create();
    static final DefaultWebSessionManager SESSIONS = new DefaultWebSessionManager();
    static final AcceptHeaderLocaleContextResolver LOCALES = new AcceptHeaderLocaleContextResolver();

    private ServerWebExchange exchange() {
        MockServerHttpRequest request = MockServerHttpRequest.post("/v1/chat/completions")
                .header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON)
                .remoteAddress(CLIENT)
                .body(BODY);
        return new DefaultServerWebExchange(request, new MockServerHttpResponse(), SESSIONS, CODECS, LOCALES);
    }

    GuardFilter[] decisionGuards;
    InferenceRequest inference;
    ModelRoute route;

    private static final class Sync implements GuardFilter.GuardChain {
        private final GuardFilter[] guards;
        private int index;

        Sync(GuardFilter[] guards) {
            this.guards = guards;
        }

        @Override
        public Mono<Void> next(GuardContext ctx) {
            return index < guards.length ? guards[index++].filter(ctx, this) : Mono.empty();
        }
    }

    private void decisionGuards() {
        // one request through the whole pipeline, for the parsed body and the route it resolves to
        ServerWebExchange first = exchange();
        GuardContext[] seen = new GuardContext[1];
        pipeline.filter(first, e -> {
            seen[0] = GuardContext.of(e);
            return Mono.empty();
        }).block();
        parsedRequest = MockServerHttpRequest.post("/v1/chat/completions")
                .header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON)
                .remoteAddress(CLIENT)
                .body(BODY);
        parsedRequest.getPath();
        inference = seen[0].inference();
        route = seen[0].route();
        decisionGuards = new GuardFilter[]{
                gateway.bean(IdentityFilter.class), gateway.bean(AccountPolicyFilter.class),
                gateway.bean(VerificationFilter.class), gateway.bean(KeySharingFilter.class),
                gateway.bean(UsageFilter.class), gateway.bean(RateLimitFilter.class)};
    }

    MockServerHttpRequest parsedRequest;

    private GuardContext context() {
        // the request as the decision path finds it: headers and path already parsed (by the guards
        // before it); a fresh response and exchange, as every request has
        ServerWebExchange exchange = new DefaultServerWebExchange(parsedRequest, new MockServerHttpResponse(),
                SESSIONS, CODECS, LOCALES);
        GuardContext ctx = new GuardContext(exchange, "req_bench", System.nanoTime());
        ctx.clientIp(CLIENT.getAddress());
        ctx.inference(inference);
        ctx.route(route);
        return ctx;
    }

    @Benchmark
    public Object contextOnly() {
        return context();
    }

    @Benchmark
    public Object decisionPath() {
        GuardContext ctx = context();
        Mono<Void> decided = new Sync(decisionGuards).next(ctx);
        if (decided != Mono.<Void>empty()) {
            decided.block(); // not the local fast path: wait for it (redis state)
        }
        if (ctx.account() == null || ctx.promptTokenEstimate() < 0) {
            throw new IllegalStateException("the decision path did not run to its end");
        }
        ctx.ended(SignalType.ON_COMPLETE);
        return ctx;
    }

    @Benchmark
    public Object baseline() {
        ServerWebExchange exchange = exchange();
        TERMINAL.filter(exchange).block();
        return exchange;
    }

    @Benchmark
    public Object decide() {
        ServerWebExchange exchange = exchange();
        pipeline.filter(exchange, TERMINAL).block();
        if (exchange.getResponse().getStatusCode() != null && exchange.getResponse().getStatusCode().isError()) {
            throw new IllegalStateException("refused: " + exchange.getResponse().getStatusCode());
        }
        return exchange;
    }
}
