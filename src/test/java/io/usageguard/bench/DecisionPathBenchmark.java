package io.usageguard.bench;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.pipeline.GuardPipeline;
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

/**
 * The per-request decision path: every guard of the real, running application (key from cache,
 * account and verification checks, body parse, routing, sharing signal, token estimate, limits),
 * driven through {@link GuardPipeline} with a terminal chain that does not proxy. {@code baseline}
 * builds the same exchange and runs only the terminal chain: the difference is the decision cost.
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
