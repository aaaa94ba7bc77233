package io.usageguard.routing;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.core.io.buffer.DefaultDataBufferFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;

import static org.assertj.core.api.Assertions.assertThat;

/** The request as the backend gets it: credentials gone, request id set, the replayed body's exact length. */
class ForwardedRequestTest {

    private static final DefaultDataBufferFactory BUFFERS = DefaultDataBufferFactory.sharedInstance;

    @Test
    void stripsCredentialsSetsTheRequestIdAndTheReplayedBodysLength() {
        MockServerHttpRequest client = MockServerHttpRequest.post("/v1/chat/completions")
                .header("Authorization", "Bearer sk-secret").header("X-Api-Key", "sk-secret")
                .header("X-Request-Id", "from-client").header("Transfer-Encoding", "chunked")
                .header("Content-Length", "999").header("Accept", "text/event-stream")
                .body("{\"model\":\"m\"}");
        byte[] rewritten = "{\"model\":\"m\",\"stream_options\":{\"include_usage\":true}}".getBytes(StandardCharsets.UTF_8);

        ForwardedRequest forwarded = new ForwardedRequest(client, "x-request-id", "req_1", rewritten, BUFFERS);

        HttpHeaders h = forwarded.getHeaders();
        assertThat(h.containsHeader("authorization")).isFalse();
        assertThat(h.containsHeader("x-api-key")).isFalse();
        assertThat(h.containsHeader("transfer-encoding")).isFalse();
        assertThat(h.get("x-request-id")).containsExactly("req_1");
        assertThat(h.getContentLength()).isEqualTo(rewritten.length);
        assertThat(h.getFirst("accept")).isEqualTo("text/event-stream");
        assertThat(forwarded.getHeaders()).isSameAs(h); // computed once
        String body = DataBufferUtils.join(forwarded.getBody()).map(b -> b.toString(StandardCharsets.UTF_8)).block();
        assertThat(body).isEqualTo(new String(rewritten, StandardCharsets.UTF_8));
        // replayable: a second subscription gets the same bytes
        assertThat(DataBufferUtils.join(forwarded.getBody()).map(b -> b.readableByteCount()).block())
                .isEqualTo(rewritten.length);
    }

    @Test
    void withoutAReadBodyTheClientsBodyAndLengthPassThrough() {
        MockServerHttpRequest client = MockServerHttpRequest.get("/v1/models").header("Authorization", "Bearer sk-secret")
                .header("Content-Length", "0").build();

        ForwardedRequest forwarded = new ForwardedRequest(client, "x-request-id", "req_2", null, BUFFERS);

        assertThat(forwarded.getHeaders().containsHeader("authorization")).isFalse();
        assertThat(forwarded.getHeaders().getContentLength()).isZero();
        assertThat(forwarded.getHeaders().get("x-request-id")).containsExactly("req_2");
    }
}
