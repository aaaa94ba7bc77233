package io.usageguard.shedding;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.Http;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Every row of "bad input": each gets its contract error or a closed connection, never a 500, and
 * the gateway keeps serving others. Raw sockets where an HTTP client would not send such a request.
 */
class BadInputIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static String key;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri())
                .property("usage-guard.request.max-body-size", "64KB")
                .property("usage-guard.request.max-header-size", "8KB") // Netty's decoder then allows 16 KB
                .property("usage-guard.request.body-timeout", "2s")
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

    private WebTestClient.ResponseSpec post(byte[] body) {
        return gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private void expectInvalidBody(String body) {
        expectInvalidBody(body.getBytes(StandardCharsets.UTF_8));
    }

    private void expectInvalidBody(byte[] body) {
        post(body).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.error.code").isEqualTo("invalid_request_body")
                .jsonPath("$.error.type").isEqualTo("invalid_request_error");
    }

    private void gatewayStillServes() {
        gateway.chat(key, "test-model").expectStatus().isOk();
    }

    @Test
    void headersOverTheLimitGet431Json() {
        gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .header("x-junk", "a".repeat(10_000)).contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\"}").exchange()
                .expectStatus().isEqualTo(431)
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_JSON)
                .expectBody().jsonPath("$.error.code").isEqualTo("request_header_too_large")
                .jsonPath("$.error.type").isEqualTo("invalid_request_error");
        // many small headers count too
        WebTestClient.RequestBodySpec many = gateway.api().post().uri("/v1/chat/completions");
        for (int i = 0; i < 200; i++) {
            many = many.header("x-h" + i, "v".repeat(40));
        }
        many.contentType(MediaType.APPLICATION_JSON).bodyValue("{\"model\":\"test-model\"}").exchange()
                .expectStatus().isEqualTo(431);
        assertThat(backend.requests()).isZero();
        gatewayStillServes();
    }

    @Test
    void headersPastNettysDecoderGetABare431OrAClosedConnection() throws IOException {
        String request = "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nx-junk: "
                + "a".repeat(40_000) + "\r\n\r\n";
        String answer = raw(request.getBytes(StandardCharsets.US_ASCII), null);
        assertThat(answer.isEmpty() || answer.startsWith("HTTP/1.1 431")).as(answer).isTrue();
        gatewayStillServes();
    }

    @Test
    void bodyWithContentLengthOverTheCapGets413() {
        post(("{\"model\":\"test-model\",\"x\":\"" + "a".repeat(70_000) + "\"}").getBytes(StandardCharsets.UTF_8))
                .expectStatus().isEqualTo(413)
                .expectBody().jsonPath("$.error.code").isEqualTo("request_too_large");
        assertThat(backend.requests()).isZero();
    }

    @Test
    void chunkedBodyWithoutContentLengthOverTheCapGets413WhileReading() throws IOException {
        ByteArrayOutputStream req = new ByteArrayOutputStream();
        req.writeBytes(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + "Authorization: Bearer " + key + "\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        byte[] chunk = "a".repeat(8192).getBytes(StandardCharsets.US_ASCII);
        String head = "{\"model\":\"test-model\",\"x\":\"";
        req.writeBytes((Integer.toHexString(head.length()) + "\r\n" + head + "\r\n").getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < 16; i++) { // 128 KB, twice the cap
            req.writeBytes(("2000\r\n").getBytes(StandardCharsets.US_ASCII));
            req.writeBytes(chunk);
            req.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        req.writeBytes("2\r\n\"}\r\n0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        String answer = raw(req.toByteArray(), null);
        assertThat(answer).startsWith("HTTP/1.1 413").contains("\"code\":\"request_too_large\"");
        assertThat(backend.requests()).isZero();
        gatewayStillServes();
    }

    @Test
    void invalidUtf8Gets400() {
        byte[] body = "{\"model\":\"test-model\",\"messages\":[{\"content\":\"XX\"}]}".getBytes(StandardCharsets.US_ASCII);
        int at = new String(body, StandardCharsets.US_ASCII).indexOf("XX");
        body[at] = (byte) 0xC3; // a two-byte sequence cut short
        body[at + 1] = (byte) 0x28;
        expectInvalidBody(body);
        expectInvalidBody(new byte[] {'{', '"', 'm', (byte) 0xFF, '"', ':', '1', '}'});
        assertThat(backend.requests()).isZero();
    }

    @Test
    void invalidJsonGets400() {
        expectInvalidBody("{\"model\": ");
        expectInvalidBody("not json at all");
        expectInvalidBody("[{\"model\":\"test-model\"}]");
        expectInvalidBody("{\"model\":\"test-model\"} trailing");
        expectInvalidBody("{\"messages\":[]}");
        expectInvalidBody("");
        assertThat(backend.requests()).isZero();
    }

    @Test
    void absurdMaxTokensGets400() {
        for (String v : new String[] {"1000000000000", "99999999999999999999999", "-5", "0", "\"100\"", "1.5", "true"}) {
            expectInvalidBody("{\"model\":\"test-model\",\"max_tokens\":" + v + "}");
        }
        assertThat(backend.requests()).isZero();
    }

    @Test
    void deeplyNestedOrHugeJsonGets400AndNeverA500() {
        expectInvalidBody("{\"model\":\"test-model\",\"messages\":" + "[".repeat(20_000) + "]".repeat(20_000) + "}");
        expectInvalidBody("{\"model\":\"test-model\",\"m\":" + "{\"a\":".repeat(5_000) + "1" + "}".repeat(5_000) + "}");
        expectInvalidBody("{\"model\":\"test-model\",\"n\":" + "9".repeat(1_000) + "}");
        expectInvalidBody("{\"model\":\"" + "m".repeat(5_000) + "\"}");
        expectInvalidBody("{\"model\":\"test-model\",\"" + "k".repeat(5_000) + "\":1}");
        assertThat(backend.requests()).isZero();
        // large but well-formed, under the cap: forwarded as it is
        StringBuilder many = new StringBuilder("{\"model\":\"test-model\",\"messages\":[");
        for (int i = 0; i < 1_200; i++) { // about 45 KB, under the 64 KB cap
            many.append(i == 0 ? "" : ",").append("{\"role\":\"user\",\"content\":\"m").append(i).append("\"}");
        }
        post(many.append("]}").toString().getBytes(StandardCharsets.UTF_8)).expectStatus().isOk();
        assertThat(backend.lastBody()).hasSize(many.length());
    }

    @Test
    void clientThatTricklesItsBodyIsDisconnectedAndOthersAreServed() throws Exception {
        long start = System.nanoTime();
        try (Socket socket = new Socket("127.0.0.1", gateway.apiPort())) {
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key
                    + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            // while the slow client holds its connection, everybody else is served
            gatewayStillServes();
            InputStream in = socket.getInputStream();
            byte[] buf = new byte[4096];
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            boolean closed = false;
            // trickle one byte every 300 ms: each read resets nothing, the body timeout (2 s) still ends it
            for (int i = 0; i < 60 && !closed; i++) {
                try {
                    out.write(' ');
                    out.flush();
                } catch (IOException e) {
                    closed = true;
                    break;
                }
                socket.setSoTimeout(300);
                try {
                    int n = in.read(buf);
                    if (n < 0) {
                        closed = true;
                    } else {
                        answer.write(buf, 0, n);
                    }
                } catch (SocketTimeoutException e) {
                    // still open
                } catch (IOException e) {
                    closed = true;
                }
            }
            String text = answer.toString(StandardCharsets.ISO_8859_1);
            assertThat(closed).as("connection closed by the gateway; got: " + text).isTrue();
            // the gateway's answer, if the client is still there to read one: a contract error, then the close
            assertThat(text.isEmpty() || text.startsWith("HTTP/1.1 400")).as(text).isTrue();
            if (!text.isEmpty()) {
                assertThat(text).contains("\"code\":\"invalid_request_body\"");
            }
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
        assertThat(backend.requests()).isEqualTo(1); // only the well-behaved request
        gatewayStillServes();
        Http.await(Duration.ofSeconds(5), "no request left in flight",
                () -> gateway.bean(LoadSheddingFilter.class).inFlight() == 0);
    }

    /** Sends bytes on a fresh connection and reads until the server closes it (or 15 s pass). */
    private static String raw(byte[] request, Duration pauseAfterHeaders) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", gateway.apiPort())) {
            socket.setSoTimeout(15_000);
            try {
                OutputStream out = socket.getOutputStream();
                out.write(request);
                out.flush();
            } catch (IOException e) {
                // the server may answer and close before the whole request is written
            }
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            try {
                InputStream in = socket.getInputStream();
                byte[] buf = new byte[8192];
                int n;
                while ((n = in.read(buf)) >= 0) {
                    answer.write(buf, 0, n);
                }
            } catch (IOException e) {
                // reset after the answer: keep what was read
            }
            return answer.toString(StandardCharsets.ISO_8859_1);
        }
    }
}
