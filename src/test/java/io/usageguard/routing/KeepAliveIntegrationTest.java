package io.usageguard.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * HTTP/1.1 keep-alive, byte for byte on one socket: SDKs reuse their connections and may send the
 * next request before the gateway has finished with the previous one. A slow answer followed by a
 * fast one (a proxied completion, then a 401 written at once) must leave the connection reading.
 * Reactor Netty up to 1.3.7 stopped reading such a connection for good (reactor-netty#4361): the
 * third request hung until the client gave up. Both ports are checked: the management port's usage
 * report is answered from a worker thread, the public port's completion from the backend.
 */
class KeepAliveIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static String key;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri()).start();
        gateway.account("acme", "L1", "INDIVIDUAL");
        key = gateway.issueKey("acme").key();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        backend.close();
    }

    @Test
    void publicPortKeepsReadingAfterASlowAnswerThenAFastOne() throws IOException {
        backend.reset().delay(Duration.ofMillis(50));
        String body = "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        String slow = "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + key
                + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
        String fast = "GET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n"; // no key: 401 at once
        String third = "GET /v1/models HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + key + "\r\n\r\n";
        assertThat(exchange(gateway.apiPort(), slow, fast, third)).containsExactly(200, 401, 200);
    }

    @Test
    void managementPortKeepsReadingAfterASlowAnswerThenAFastOne() throws IOException {
        String slow = "GET /admin/accounts/acme/usage HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer "
                + GatewayInstance.ADMIN_TOKEN + "\r\n\r\n";
        String fast = "GET /admin/accounts/acme/usage HTTP/1.1\r\nHost: gw\r\n\r\n"; // no token: 401 at once
        assertThat(exchange(gateway.managementPort(), slow, fast, slow)).containsExactly(200, 401, 200);
    }

    @Test
    void aClientThatWaitsForEachAnswerIsServedToo() throws IOException {
        // the common case: one request at a time on a kept-alive connection, sent as soon as the
        // previous answer is read (the race behind reactor-netty#4361's second route)
        String slow = "GET /admin/accounts/acme/usage HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer "
                + GatewayInstance.ADMIN_TOKEN + "\r\n\r\n";
        String fast = "GET /admin/accounts/acme/usage HTTP/1.1\r\nHost: gw\r\n\r\n";
        try (Socket socket = new Socket("127.0.0.1", gateway.managementPort())) {
            socket.setSoTimeout(5_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            for (int i = 0; i < 50; i++) {
                String request = i % 3 == 2 ? fast : slow;
                out.write(request.getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(answer(in, "request " + i)).as("answer %d", i).isEqualTo(i % 3 == 2 ? 401 : 200);
            }
        }
    }

    /**
     * Writes the first two requests in one write, reads both answers, then sends the third on the
     * same connection and reads its answer. Returns the three statuses.
     */
    private static int[] exchange(int port, String first, String second, String third) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(5_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            out.write((first + second).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            int a = readResponse(in);
            int b = readResponse(in);
            out.write(third.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return new int[] {a, b, answer(in, "the third request")};
        }
    }

    /** The status of the next answer, failing clearly when the connection stopped answering. */
    private static int answer(InputStream in, String what) throws IOException {
        try {
            return readResponse(in);
        } catch (SocketTimeoutException e) {
            throw new AssertionError(what + " on the kept-alive connection got no answer in 5 s", e);
        }
    }

    /** One HTTP/1.1 response (Content-Length or chunked body); returns its status. */
    static int readResponse(InputStream in) throws IOException {
        String status = line(in);
        int code = Integer.parseInt(status.split(" ")[1]);
        long length = -1;
        boolean chunked = false;
        for (String h = line(in); !h.isEmpty(); h = line(in)) {
            String lower = h.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-length:")) {
                length = Long.parseLong(lower.substring(15).trim());
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            }
        }
        if (chunked) {
            for (long size = Long.parseLong(line(in).trim(), 16); size > 0; size = Long.parseLong(line(in).trim(), 16)) {
                skip(in, size);
                line(in);
            }
            line(in); // the empty line after the last chunk
        } else if (length > 0) {
            skip(in, length);
        }
        return code;
    }

    private static void skip(InputStream in, long n) throws IOException {
        for (long i = 0; i < n; i++) {
            if (in.read() < 0) {
                throw new IOException("connection closed inside a body");
            }
        }
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("connection closed");
            }
            if (c != '\r') {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.US_ASCII);
    }
}
