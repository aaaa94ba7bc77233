package io.usageguard.shedding;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.Http;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufMono;
import reactor.netty.http.client.HttpClient;

/**
 * SIGTERM closes the Spring context; here the test closes it from another thread while a stream
 * runs. The stream must finish whole, new requests must be refused, and readiness must say so.
 */
class GracefulShutdownIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri())
                .property("usage-guard.shutdown.grace-period", "20s")
                .start();
        gateway.account("acme", "L1", "INDIVIDUAL");
    }

    @AfterAll
    static void stop() {
        if (gateway.context().isActive()) {
            gateway.close();
        }
        backend.close();
    }

    @Test
    void runningStreamFinishesNewRequestsAreRefusedAndReadinessGoesDown() throws Exception {
        String key = gateway.issueKey("acme").key();
        int apiPort = gateway.apiPort();
        int managementPort = gateway.managementPort();
        assertThat(readiness(managementPort)).isEqualTo(200);

        // 15 events 200 ms apart: the stream runs 3 s
        backend.eventInterval(Duration.ofMillis(200)).completionTokens(15);
        CountDownLatch firstEvent = new CountDownLatch(1);
        String body = "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        Mono<String> stream = Http.client(apiPort)
                .headers(h -> h.set("Authorization", "Bearer " + key).set("Content-Type", "application/json"))
                .post().uri("/v1/chat/completions").send(ByteBufMono.fromString(Mono.just(body)))
                .responseContent().asString(StandardCharsets.UTF_8)
                .doOnNext(s -> firstEvent.countDown())
                .reduce("", String::concat)
                .cache();
        stream.subscribe();
        assertThat(firstEvent.await(30, TimeUnit.SECONDS)).isTrue();

        AtomicReference<Throwable> closeFailure = new AtomicReference<>();
        Thread closer = new Thread(() -> {
            try {
                gateway.close();
            } catch (Throwable t) {
                closeFailure.set(t);
            }
        }, "sigterm");
        closer.start();

        // readiness reports not ready while the stream drains (the management port stays up meanwhile)
        Http.await(Duration.ofSeconds(10), "readiness OUT_OF_SERVICE", () -> readiness(managementPort) == 503);

        // a new request is refused: 503 overloaded while draining, or no connection at all after
        Http.Response refused = Http.chat(apiPort, key, "test-model", false)
                .onErrorResume(e -> Mono.just(new Http.Response(-1, null, String.valueOf(e), 0)))
                .block(Duration.ofSeconds(30));
        if (refused.status() == -1) {
            assertThat(refused.body()).containsAnyOf("Connection refused", ConnectException.class.getSimpleName());
        } else {
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.body()).contains("\"code\":\"overloaded\"");
            assertThat(refused.header("Retry-After")).isEqualTo("1");
        }
        assertThat(closer.isAlive()).as("shutdown waits for the stream").isTrue();

        String whole = stream.block(Duration.ofSeconds(30));
        assertThat(whole.split("chat.completion.chunk", -1)).hasSize(16);
        assertThat(whole).endsWith("data: [DONE]\n\n");

        closer.join(TimeUnit.SECONDS.toMillis(60));
        assertThat(closer.isAlive()).isFalse();
        assertThat(closeFailure.get()).isNull();
        assertThat(backend.requests()).as("the refused request never reached the backend").isEqualTo(1);
    }

    /** Status of the readiness probe; -1 when the management port does not answer. */
    private static int readiness(int port) {
        try {
            return HttpClient.create().get().uri("http://127.0.0.1:" + port + "/actuator/health/readiness")
                    .responseSingle((res, content) -> Mono.just(res.status().code()))
                    .block(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            return -1;
        }
    }
}
