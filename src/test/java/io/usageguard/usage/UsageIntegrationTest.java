package io.usageguard.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.EncodingType;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.RequestEnd;
import io.usageguard.pipeline.RequestObserver;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.client.WebClient;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Tokens end to end: the running gateway in front of the stub backend; what each request's
 * {@link GuardContext} held when it ended is captured by a test {@link RequestObserver}.
 */
class UsageIntegrationTest {

    static final JsonMapper JSON = JsonMapper.builder().build();

    record Seen(long promptEstimate, TokenUsage usage, RequestEnd end) {
    }

    /** What the pipeline's observers are told, by request id. */
    static final class Probe implements RequestObserver {
        final Map<String, Seen> seen = new ConcurrentHashMap<>();

        @Override
        public void onComplete(GuardContext ctx, RequestEnd end) {
            seen.put(ctx.requestId(), new Seen(ctx.promptTokenEstimate(), ctx.usage(), end));
        }

        Seen await(String requestId) {
            UsageIntegrationTest.await(() -> seen.containsKey(requestId), "request " + requestId + " to end");
            return seen.get(requestId);
        }
    }

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static final Probe probe = new Probe();
    static String key;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri())
                .property("usage-guard.models.[tok-model].backend", "default")
                .property("usage-guard.usage.tokenizers.[tok-*]", "cl100k_base")
                .bean("usageProbe", probe)
                .start();
        gateway.account("acme", "L1", "INDIVIDUAL");
        key = gateway.issueKey("acme").key();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        backend.close();
    }

    @BeforeEach
    void reset() {
        backend.reset();
    }

    static String post(String path, String body, String requestId) {
        return gateway.api().post().uri(path).header("Authorization", "Bearer " + key)
                .header("x-request-id", requestId)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
    }

    static WebClient client() {
        return WebClient.builder().baseUrl("http://127.0.0.1:" + gateway.apiPort())
                .defaultHeader("Authorization", "Bearer " + key).build();
    }

    static void await(BooleanSupplier condition, String what) {
        io.usageguard.testsupport.Http.await(Duration.ofSeconds(30), what, condition);
    }

    /** The stub reports prompt_tokens = the length of the body it received / 4. */
    static long stubPromptTokens() {
        return Math.max(1, backend.lastBody().length() / 4);
    }

    @Test
    void jsonUsageIsReadFromTheBackendsAnswer() {
        String body = "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
        String answer = post("/v1/chat/completions", body, "json-1");
        assertThat(answer).contains("\"usage\"");
        Seen seen = probe.await("json-1");
        assertThat(seen.promptEstimate()).isEqualTo(4); // "user" + "hello there" = 15 chars → ceil(15/4)
        assertThat(backend.lastBody()).isEqualTo(body); // not a stream: forwarded unchanged
        assertThat(seen.usage()).isEqualTo(new TokenUsage(stubPromptTokens(), 5, true));
    }

    @Test
    void embeddingsHaveOnlyPromptTokens() {
        post("/v1/embeddings", "{\"model\":\"test-model\",\"input\":\"some text to embed\"}", "emb-1");
        assertThat(probe.await("emb-1").usage()).isEqualTo(new TokenUsage(stubPromptTokens(), 0, true));
    }

    @Test
    void aStreamWhoseClientDidNotAskForUsageIsAskedForItAndTheClientNeverSeesIt() {
        backend.completionTokens(6);
        String body = "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        String stream = post("/v1/chat/completions", body, "stream-1");
        JsonNode forwarded = JSON.readTree(backend.lastBody());
        assertThat(forwarded.path("stream_options").path("include_usage").asBoolean(false)).isTrue();
        assertThat(forwarded.path("messages")).isEqualTo(JSON.readTree(body).path("messages"));
        // the client's stream is what it would have been without the gateway's question
        assertThat(stream).doesNotContain("usage").doesNotContain("\"choices\":[]").endsWith("data: [DONE]\n\n");
        assertThat(stream.split("\n\n")).hasSize(7); // 6 content events and [DONE]
        Seen seen = probe.await("stream-1");
        assertThat(seen.usage()).isEqualTo(new TokenUsage(stubPromptTokens(), 6, true));
    }

    @Test
    void aStreamWhoseClientAskedForUsageIsForwardedAsIs() {
        String body = "{\"model\":\"test-model\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[]}";
        String stream = post("/v1/chat/completions", body, "stream-2");
        assertThat(backend.lastBody()).isEqualTo(body);
        assertThat(stream).contains("\"choices\":[],\"usage\":{\"prompt_tokens\":");
        assertThat(probe.await("stream-2").usage()).isEqualTo(new TokenUsage(stubPromptTokens(), 5, true));
    }

    @Test
    void aStreamThatEndsWithoutUsageIsChargedTheEstimate() {
        backend.reportUsage(false);
        String body = "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
        String stream = post("/v1/chat/completions", body, "stream-3");
        assertThat(stream).doesNotContain("usage");
        Seen seen = probe.await("stream-3");
        // 5 events of "tokN " = 25 characters: max(5 events, ceil(25 / 4)) = 7
        assertThat(seen.usage()).isEqualTo(new TokenUsage(seen.promptEstimate(), 7, false));
        assertThat(seen.promptEstimate()).isEqualTo(4);
    }

    @Test
    void eventsReachTheClientOneByOne() {
        backend.eventInterval(Duration.ofMillis(200)).completionTokens(8);
        List<Long> arrivals = new ArrayList<>();
        List<String> events = client().post().uri("/v1/chat/completions").header("x-request-id", "stream-4")
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\",\"stream\":true,\"messages\":[]}")
                .retrieve().bodyToFlux(String.class)
                .doOnNext(e -> arrivals.add(System.nanoTime()))
                .collectList().block(Duration.ofSeconds(30));
        assertThat(events).hasSize(9).last().isEqualTo("[DONE]"); // 8 content events; no usage chunk
        // the first event arrived long before the last one was sent (7 intervals of 200 ms later)
        assertThat(Duration.ofNanos(arrivals.get(7) - arrivals.get(0))).isGreaterThan(Duration.ofMillis(1000));
        assertThat(probe.await("stream-4").usage()).isEqualTo(new TokenUsage(stubPromptTokens(), 8, true));
    }

    @Test
    void aClientThatLeavesMidStreamIsChargedWhatPassedAndTheBackendIsCancelled() {
        backend.eventInterval(Duration.ofMillis(200)).completionTokens(50);
        List<String> events = client().post().uri("/v1/chat/completions").header("x-request-id", "stream-5")
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\",\"stream\":true,\"messages\":[]}")
                .retrieve().bodyToFlux(String.class)
                .take(3).collectList().block(Duration.ofSeconds(30));
        assertThat(events).hasSize(3);
        Seen seen = probe.await("stream-5");
        assertThat(seen.end().status()).isEqualTo(200);
        assertThat(seen.usage()).isNotNull();
        assertThat(seen.usage().reported()).isFalse();
        assertThat(seen.usage().promptTokens()).isEqualTo(seen.promptEstimate());
        assertThat(seen.usage().completionTokens()).isBetween(3L, 49L);
        await(() -> backend.cancelled() >= 1, "the backend to see the cancellation");
    }

    @Test
    void aClientThatLeavesBeforeTheAnswerIsChargedThePromptEstimate() {
        backend.delay(Duration.ofSeconds(20));
        client().post().uri("/v1/chat/completions").header("x-request-id", "early-1")
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}")
                .retrieve().bodyToMono(String.class)
                .timeout(Duration.ofMillis(1500)).onErrorResume(e -> reactor.core.publisher.Mono.empty())
                .block(Duration.ofSeconds(30));
        Seen seen = probe.await("early-1");
        assertThat(seen.usage()).isEqualTo(new TokenUsage(4, 0, false));
    }

    @Test
    void aModelWithATokenizerIsCountedWithIt() {
        String content = "Tokenizers split text into pieces: ünïcödé, 数字 12345, and code `x += 1`.";
        String body = "{\"model\":\"tok-model\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}]}";
        post("/v1/chat/completions", body, "tok-1");
        long expected = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.CL100K_BASE)
                .countTokensOrdinary("user\n" + content);
        Seen seen = probe.await("tok-1");
        assertThat(seen.promptEstimate()).isEqualTo(expected)
                .isNotEqualTo((long) Math.ceil((4 + content.length()) / 4.0));
    }

    @Test
    void aFailedAnswerSetsNoUsage() {
        backend.failWith(500);
        gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .header("x-request-id", "fail-1").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\",\"stream\":true,\"messages\":[]}".getBytes(StandardCharsets.UTF_8))
                .exchange().expectStatus().isEqualTo(500);
        Seen seen = probe.await("fail-1");
        assertThat(seen.promptEstimate()).isPositive();
        assertThat(seen.usage()).isNull();
    }
}
