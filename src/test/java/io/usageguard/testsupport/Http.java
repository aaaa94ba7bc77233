package io.usageguard.testsupport;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.BooleanSupplier;

import io.netty.handler.codec.http.HttpHeaders;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufMono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/** Asynchronous requests to a running gateway (for concurrency tests), and waiting with a deadline. */
public final class Http {

    private Http() {
    }

    public record Response(int status, HttpHeaders headers, String body, long nanos) {
        public String header(String name) {
            return headers.get(name);
        }
    }

    /** A client with its own connections, so that requests held open do not starve others. */
    public static HttpClient client(int port) {
        return HttpClient.create(ConnectionProvider.newConnection()).baseUrl("http://127.0.0.1:" + port)
                .responseTimeout(Duration.ofSeconds(60));
    }

    /** POST a chat completion; the Mono gives status, headers, whole body and elapsed time. */
    public static Mono<Response> chat(int port, String key, String model, boolean stream) {
        String body = "{\"model\":\"" + model + "\",\"stream\":" + stream
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
        return Mono.defer(() -> {
            long start = System.nanoTime();
            return client(port).headers(h -> h.set("Authorization", "Bearer " + key).set("Content-Type", "application/json"))
                    .post().uri("/v1/chat/completions")
                    .send(ByteBufMono.fromString(Mono.just(body)))
                    .responseSingle((res, content) -> content.asString(StandardCharsets.UTF_8).defaultIfEmpty("")
                            .map(s -> new Response(res.status().code(), res.responseHeaders(), s, System.nanoTime() - start)));
        });
    }

    /** Polls until the condition holds, failing after the deadline. */
    public static void await(Duration deadline, String what, BooleanSupplier condition) {
        long end = System.nanoTime() + deadline.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
