package io.usageguard.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DefaultDataBufferFactory;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Flux;

/** Routing by model, the body cap, bad bodies and unknown URLs: every answer is the contract's JSON. */
class RoutingIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static String key;
    static String freeTierKey;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri())
                .property("usage-guard.request.max-body-size", "64KB")
                .property("usage-guard.models.[premium-*].backend", "default")
                .property("usage-guard.models.[premium-*].allowed-tiers", "L2,L3")
                .start();
        gateway.account("router", "L1", "INDIVIDUAL");
        key = gateway.issueKey("router").key();
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

    private WebTestClient.ResponseSpec post(String body) {
        return gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private static void invalidBody(WebTestClient.ResponseSpec spec) {
        spec.expectStatus().isBadRequest().expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_JSON)
                .expectBody().jsonPath("$.error.code").isEqualTo("invalid_request_body")
                .jsonPath("$.error.type").isEqualTo("invalid_request_error");
    }

    @Test
    void unknownModelIs404() {
        post("{\"model\":\"no-such-model\"}").expectStatus().isNotFound()
                .expectBody().jsonPath("$.error.code").isEqualTo("model_not_found")
                .jsonPath("$.error.type").isEqualTo("invalid_request_error");
        assertThat(backend.requests()).isZero();
    }

    @Test
    void globsRouteAndTiersArePermittedPerModel() {
        post("{\"model\":\"premium-large\"}").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("model_not_permitted");
        gateway.account("router-l2", "L2", "INDIVIDUAL");
        String l2 = gateway.issueKey("router-l2").key();
        gateway.chat(l2, "premium-large").expectStatus().isOk();
        assertThat(backend.lastBody()).contains("premium-large");
    }

    @Test
    void badBodiesAre400() {
        invalidBody(post("this is not json"));
        invalidBody(post("{\"messages\":[]}"));                       // no model
        invalidBody(post("{\"model\":\"\"}"));                        // empty model
        invalidBody(post("{\"model\":42}"));                          // not a string
        invalidBody(post("[\"model\"]"));                             // not an object
        invalidBody(post("{\"model\":\"test-model\",\"max_tokens\":-5}"));
        invalidBody(post("{\"model\":\"test-model\",\"max_tokens\":\"lots\"}"));
        invalidBody(post("{\"model\":\"test-model\",\"max_tokens\":99999999999}"));
        invalidBody(post("{\"model\":\"test-model\"} trailing"));
        invalidBody(post("{\"model\":\"test-model\",\"x\":" + "[".repeat(200) + "]".repeat(200) + "}"));
        invalidBody(gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(new byte[0]).exchange());
        assertThat(backend.requests()).isZero();
    }

    @Test
    void invalidUtf8Is400() {
        byte[] body = "{\"model\":\"test-model\",\"messages\":[{\"content\":\"\u00ff\u00fe\"}]}"
                .getBytes(StandardCharsets.ISO_8859_1);
        invalidBody(gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange());
    }

    @Test
    void bodiesOverTheCapAre413WithOrWithoutContentLength() {
        String big = "{\"model\":\"test-model\",\"messages\":[{\"content\":\"" + "x".repeat(70 * 1024) + "\"}]}";
        post(big).expectStatus().isEqualTo(413)
                .expectBody().jsonPath("$.error.code").isEqualTo("request_too_large");
        // chunked, no Content-Length: refused while reading
        Flux<DataBuffer> chunks = Flux.range(0, 100)
                .map(i -> DefaultDataBufferFactory.sharedInstance.wrap(("{\"model\":\"test-model\",\"p\":\""
                        + "y".repeat(1024)).getBytes(StandardCharsets.UTF_8)));
        gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).body(chunks, DataBuffer.class).exchange()
                .expectStatus().isEqualTo(413)
                .expectBody().jsonPath("$.error.code").isEqualTo("request_too_large");
        assertThat(backend.requests()).isZero();
    }

    @Test
    void completionsAndEmbeddingsAreRoutedToo() {
        gateway.api().post().uri("/v1/embeddings").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{\"model\":\"test-model\",\"input\":\"hi\"}")
                .exchange().expectStatus().isOk().expectBody().jsonPath("$.object").isEqualTo("list");
        gateway.api().post().uri("/v1/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{\"model\":\"test-model\",\"prompt\":\"hi\"}")
                .exchange().expectStatus().isOk().expectBody().jsonPath("$.object").isEqualTo("text_completion");
    }

    @Test
    void unknownUrlsAreJsonToo() {
        gateway.api().get().uri("/v1/no-such-thing").header("Authorization", "Bearer " + key).exchange()
                .expectStatus().isNotFound().expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_JSON)
                .expectBody().jsonPath("$.error.code").isEqualTo("unknown_url");
        gateway.api().get().uri("/").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.error.code").isEqualTo("missing_api_key");
    }

    @Test
    void requestIdsAreEchoedWhenSaneAndGeneratedOtherwise() {
        gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .header("x-request-id", "client-abc.123").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\"}").exchange()
                .expectStatus().isOk().expectHeader().valueEquals("x-request-id", "client-abc.123");
        assertThat(backend.lastHeaders()).containsEntry("x-request-id", "client-abc.123");
        gateway.api().post().uri("/v1/chat/completions").header("x-request-id", "<script>alert(1)</script>")
                .exchange().expectStatus().isUnauthorized()
                .expectHeader().value("x-request-id", id -> assertThat(id).startsWith("req_").doesNotContain("<"));
        // an insane id never reaches the backend either: it gets the one the client was answered with
        String answered = gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .header("x-request-id", "<script>alert(1)</script>").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\"}").exchange()
                .expectStatus().isOk().returnResult(String.class).getResponseHeaders().getFirst("x-request-id");
        assertThat(answered).startsWith("req_");
        assertThat(backend.lastHeaders()).containsEntry("x-request-id", answered);
    }
}
