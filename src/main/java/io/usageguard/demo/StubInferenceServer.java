package io.usageguard.demo;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.resources.LoopResources;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A small OpenAI-compatible server: {@code /v1/chat/completions}, {@code /v1/completions} and
 * {@code /v1/embeddings}, in JSON and in SSE, with {@code usage} the way vLLM reports it. Used by
 * the {@code demo} profile and by the tests; its knobs let tests make it slow, failing or chatty.
 * It never logs what it is sent.
 */
public final class StubInferenceServer implements AutoCloseable {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final DisposableServer server;
    /**
     * Its own event loops: reactor-netty's global ones are disposed whenever a Spring context using
     * them closes, which would silently kill a stub that outlives a gateway instance in a test.
     */
    private final LoopResources loops = LoopResources.create("stub-backend", 1, 2, true);
    /** Completion tokens per answer; each SSE event carries one. */
    private volatile int completionTokens = 5;
    /** Added before the response headers. */
    private volatile Duration delay = Duration.ZERO;
    /** Between two SSE events. */
    private volatile Duration eventInterval = Duration.ZERO;
    /** When non-zero, every answer is this status with an OpenAI-shaped error body. */
    private volatile int failWithStatus;
    /** When false, a stream ends without a usage chunk even if asked for one. */
    private volatile boolean reportUsage = true;
    /** When set, the answer's text (JSON: the whole content; SSE: the first event's delta); else "tok0 tok1 ...". */
    private volatile String content;
    /** When non-negative, the prompt tokens reported; else body length / 4. */
    private volatile int promptTokens = -1;
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicInteger cancelled = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Map<String, String> lastHeaders = new ConcurrentHashMap<>();
    private volatile String lastBody = "";

    private StubInferenceServer(String host, int port) {
        this.server = HttpServer.create().runOn(loops).host(host).port(port)
                .route(routes -> routes
                        .post("/v1/chat/completions", (req, res) -> handle(req, res, "chat"))
                        .post("/v1/completions", (req, res) -> handle(req, res, "text"))
                        .post("/v1/embeddings", (req, res) -> handle(req, res, "embedding"))
                        .post("/v1/images/generations", (req, res) -> handle(req, res, "image")))
                .bindNow();
    }

    /** Runs the stub on its own (for benchmarks): {@code java -cp ... io.usageguard.demo.StubInferenceServer 18500}. */
    public static void main(String[] args) throws InterruptedException {
        StubInferenceServer stub = start(args.length > 0 ? Integer.parseInt(args[0]) : 18090);
        System.out.println("stub backend on " + stub.uri());
        stub.server.onDispose().block();
    }

    public static StubInferenceServer start(int port) {
        return new StubInferenceServer("127.0.0.1", port);
    }

    public static StubInferenceServer start() {
        return start(0);
    }

    public int port() {
        return server.port();
    }

    public String uri() {
        return "http://127.0.0.1:" + port();
    }

    public StubInferenceServer completionTokens(int n) {
        this.completionTokens = n;
        return this;
    }

    public StubInferenceServer delay(Duration d) {
        this.delay = d;
        return this;
    }

    public StubInferenceServer eventInterval(Duration d) {
        this.eventInterval = d;
        return this;
    }

    public StubInferenceServer failWith(int status) {
        this.failWithStatus = status;
        return this;
    }

    public StubInferenceServer reportUsage(boolean report) {
        this.reportUsage = report;
        return this;
    }

    public StubInferenceServer content(String text) {
        this.content = text;
        return this;
    }

    public StubInferenceServer promptTokens(int n) {
        this.promptTokens = n;
        return this;
    }

    public StubInferenceServer reset() {
        completionTokens = 5;
        delay = Duration.ZERO;
        eventInterval = Duration.ZERO;
        failWithStatus = 0;
        reportUsage = true;
        content = null;
        promptTokens = -1;
        requests.set(0);
        cancelled.set(0);
        lastHeaders.clear();
        lastBody = "";
        return this;
    }

    public int requests() {
        return requests.get();
    }

    public int cancelled() {
        return cancelled.get();
    }

    public int inFlight() {
        return inFlight.get();
    }

    /** Headers of the last request, lower-case names. */
    public Map<String, String> lastHeaders() {
        return Map.copyOf(lastHeaders);
    }

    public String lastBody() {
        return lastBody;
    }

    private Mono<Void> handle(HttpServerRequest req, HttpServerResponse res, String kind) {
        requests.incrementAndGet();
        HttpHeaders headers = req.requestHeaders();
        lastHeaders.clear();
        headers.forEach(h -> lastHeaders.put(h.getKey().toLowerCase(java.util.Locale.ROOT), h.getValue()));
        return req.receive().aggregate().asString(StandardCharsets.UTF_8).defaultIfEmpty("{}")
                .flatMap(body -> {
                    lastBody = body;
                    Mono<Void> answer = Mono.defer(() -> answer(body, res, kind));
                    Duration d = delay;
                    return d.isZero() ? answer : Mono.delay(d).then(answer);
                })
                .doOnSubscribe(s -> inFlight.incrementAndGet())
                .doOnCancel(cancelled::incrementAndGet)
                .doFinally(s -> inFlight.decrementAndGet());
    }

    private Mono<Void> answer(String body, HttpServerResponse res, String kind) {
        if (failWithStatus != 0) {
            return res.status(failWithStatus).header(HttpHeaderNames.CONTENT_TYPE, "application/json")
                    .sendString(Mono.just("{\"error\":{\"message\":\"stub failure\",\"type\":\"server_error\",\"code\":null}}"))
                    .then();
        }
        JsonNode json;
        try {
            json = JSON.readTree(body);
        } catch (RuntimeException e) {
            return res.status(HttpResponseStatus.BAD_REQUEST).sendString(Mono.just("{\"error\":{\"message\":\"bad json\"}}")).then();
        }
        String model = json.path("model").asString("unknown");
        boolean stream = json.path("stream").asBoolean(false);
        boolean includeUsage = json.path("stream_options").path("include_usage").asBoolean(false);
        int prompt = promptTokens >= 0 ? promptTokens : Math.max(1, body.length() / 4);
        String text = content;
        int completion = completionTokens;
        if (!stream) {
            String usage = "{\"prompt_tokens\":" + prompt + ",\"completion_tokens\":" + completion
                    + ",\"total_tokens\":" + (prompt + completion) + "}";
            String content = switch (kind) {
                case "embedding" -> "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.1,0.2]}],"
                        + "\"model\":\"" + model + "\",\"usage\":{\"prompt_tokens\":" + prompt + ",\"total_tokens\":" + prompt + "}}";
                case "image" -> "{\"created\":0,\"data\":[{\"url\":\"http://127.0.0.1/image.png\"}]}";
                case "text" -> "{\"id\":\"cmpl-stub\",\"object\":\"text_completion\",\"created\":0,\"model\":\"" + model
                        + "\",\"choices\":[{\"index\":0,\"text\":\"" + (text != null ? text : words(completion)) + "\",\"finish_reason\":\"stop\"}],\"usage\":" + usage + "}";
                default -> "{\"id\":\"chatcmpl-stub\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"" + model
                        + "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" + (text != null ? text : words(completion))
                        + "\"},\"finish_reason\":\"stop\"}],\"usage\":" + usage + "}";
            };
            return res.header(HttpHeaderNames.CONTENT_TYPE, "application/json").sendString(Mono.just(content)).then();
        }
        Duration interval = eventInterval;
        boolean usageChunk = includeUsage && reportUsage;
        Flux<String> events = Flux.range(0, completion).map(i -> "data: {\"id\":\"chatcmpl-stub\",\"object\":\"chat.completion.chunk\","
                + "\"created\":0,\"model\":\"" + model + "\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + (text != null && i == 0 ? text : "tok" + i + " ")
                + "\"},\"finish_reason\":null}]}\n\n");
        if (!interval.isZero()) {
            events = events.delayElements(interval);
        }
        Flux<String> tail = Flux.just(
                usageChunk ? "data: {\"id\":\"chatcmpl-stub\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\""
                        + model + "\",\"choices\":[],\"usage\":{\"prompt_tokens\":" + prompt + ",\"completion_tokens\":"
                        + completion + ",\"total_tokens\":" + (prompt + completion) + "}}\n\n" : "",
                "data: [DONE]\n\n").filter(s -> !s.isEmpty());
        return res.header(HttpHeaderNames.CONTENT_TYPE, "text/event-stream")
                .header(HttpHeaderNames.CACHE_CONTROL, "no-cache")
                .sendString(events.concatWith(tail), StandardCharsets.UTF_8)
                .then();
    }

    private static String words(int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : " ").append("tok").append(i);
        }
        return sb.toString();
    }

    @Override
    public void close() {
        server.disposeNow(Duration.ofSeconds(2));
        loops.disposeLater(Duration.ZERO, Duration.ofSeconds(2)).block(Duration.ofSeconds(5));
    }
}
