package io.usageguard.backend;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.shedding.LoadSheddingFilter;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.Http;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Per-backend circuit breaker, bulkhead, pools, timeouts and the global in-flight ceiling, against
 * real stub backends through the running gateway.
 */
class BackendProtectionIntegrationTest {

    static StubInferenceServer flaky;
    static StubInferenceServer narrow;
    static StubInferenceServer poolA;
    static StubInferenceServer poolB;
    static StubInferenceServer slow;
    static StubInferenceServer shared;
    static GatewayInstance gateway;
    static String key;

    @BeforeAll
    static void start() {
        flaky = StubInferenceServer.start();
        narrow = StubInferenceServer.start();
        poolA = StubInferenceServer.start();
        poolB = StubInferenceServer.start();
        slow = StubInferenceServer.start();
        shared = StubInferenceServer.start();
        gateway = GatewayInstance.builder(shared.uri())
                .property("usage-guard.shedding.max-in-flight", 4)
                // opens after 4 calls with half of them failing, half-open after 2 s with one trial call
                .property("usage-guard.backends.flaky.uri", flaky.uri())
                .property("usage-guard.backends.flaky.circuit-breaker.sliding-window-size", 4)
                .property("usage-guard.backends.flaky.circuit-breaker.minimum-number-of-calls", 4)
                .property("usage-guard.backends.flaky.circuit-breaker.failure-rate-threshold", 50)
                .property("usage-guard.backends.flaky.circuit-breaker.wait-duration-in-open-state", "2s")
                .property("usage-guard.backends.flaky.circuit-breaker.permitted-calls-in-half-open-state", 1)
                .property("usage-guard.models.[flaky-model].backend", "flaky")
                .property("usage-guard.backends.narrow.uri", narrow.uri())
                .property("usage-guard.backends.narrow.max-concurrent", 2)
                .property("usage-guard.models.[narrow-model].backend", "narrow")
                .property("usage-guard.backends.pool-a.uri", poolA.uri())
                .property("usage-guard.backends.pool-a.circuit-breaker.sliding-window-size", 2)
                .property("usage-guard.backends.pool-a.circuit-breaker.minimum-number-of-calls", 2)
                .property("usage-guard.backends.pool-a.circuit-breaker.wait-duration-in-open-state", "120s")
                .property("usage-guard.backends.pool-b.uri", poolB.uri())
                .property("usage-guard.backends.pool-b.circuit-breaker.sliding-window-size", 2)
                .property("usage-guard.backends.pool-b.circuit-breaker.minimum-number-of-calls", 2)
                .property("usage-guard.backends.pool-b.circuit-breaker.wait-duration-in-open-state", "120s")
                .property("usage-guard.models.[pool-model].backend", "pool-a,pool-b")
                .property("usage-guard.backends.slow.uri", slow.uri())
                .property("usage-guard.backends.slow.timeout", "1s")
                .property("usage-guard.backends.slow.first-byte-timeout", "1s")
                .property("usage-guard.models.[slow-model].backend", "slow")
                .start();
        gateway.account("acme", "L1", "INDIVIDUAL");
        key = gateway.issueKey("acme").key();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        for (StubInferenceServer s : List.of(flaky, narrow, poolA, poolB, slow, shared)) {
            s.close();
        }
    }

    private static Http.Response chat(String model, boolean stream) {
        return Http.chat(gateway.apiPort(), key, model, stream).block(Duration.ofSeconds(60));
    }

    @Test
    void failingBackendOpensTheBreakerAndTrafficResumesAfterRecovery() {
        flaky.reset().failWith(500);
        for (int i = 0; i < 4; i++) {
            assertThat(chat("flaky-model", false).status()).isEqualTo(500); // the backend's own answer
        }
        assertThat(flaky.requests()).isEqualTo(4);
        assertThat(gateway.bean(BackendPool.class).breaker("flaky").getState().name()).isEqualTo("OPEN");

        for (int i = 0; i < 3; i++) {
            Http.Response refused = chat("flaky-model", false);
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.body()).contains("\"code\":\"upstream_unavailable\"");
            assertThat(Long.parseLong(refused.header("Retry-After"))).isBetween(1L, 2L);
            assertThat(Duration.ofNanos(refused.nanos())).isLessThan(Duration.ofSeconds(1));
        }
        assertThat(flaky.requests()).as("the backend is not called while the breaker is open").isEqualTo(4);

        flaky.failWith(0);
        // half-open after the 2 s wait (resilience4j's own clock): poll with a deadline
        Http.await(Duration.ofSeconds(20), "traffic resumes", () -> chat("flaky-model", false).status() == 200);
        for (int i = 0; i < 3; i++) {
            assertThat(chat("flaky-model", false).status()).isEqualTo(200);
        }
        assertThat(gateway.bean(BackendPool.class).breaker("flaky").getState().name()).isEqualTo("CLOSED");
    }

    @Test
    void fullBulkheadRefusesAtOnce() {
        narrow.reset().delay(Duration.ofSeconds(3));
        List<Mono<Http.Response>> slowCalls = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            slowCalls.add(Http.chat(gateway.apiPort(), key, "narrow-model", false).cache());
            slowCalls.get(i).subscribe();
        }
        Http.await(Duration.ofSeconds(10), "two requests in flight at the backend", () -> narrow.inFlight() == 2);

        Http.Response third = chat("narrow-model", false);
        assertThat(third.status()).isEqualTo(503);
        assertThat(third.body()).contains("\"code\":\"upstream_unavailable\"").contains("\"type\":\"server_error\"");
        assertThat(third.header("Retry-After")).isEqualTo("1");
        assertThat(Duration.ofNanos(third.nanos())).isLessThan(Duration.ofSeconds(1));
        assertThat(narrow.requests()).isEqualTo(2);

        for (Mono<Http.Response> call : slowCalls) {
            assertThat(call.block(Duration.ofSeconds(30)).status()).isEqualTo(200);
        }
        narrow.delay(Duration.ZERO);
        assertThat(chat("narrow-model", false).status()).as("slots are free again").isEqualTo(200);
        // the slot is released when the exchange ends, a moment after the client has read the answer
        Http.await(Duration.ofSeconds(5), "both bulkhead slots free",
                () -> gateway.bean(BackendPool.class).bulkhead("narrow").getMetrics().getAvailableConcurrentCalls() == 2);
    }

    @Test
    void poolRoutesAroundAnOpenBreakerAndRefusesWhenNoBackendIsHealthy() {
        poolA.reset().failWith(502);
        poolB.reset();
        int ok = 0;
        for (int i = 0; i < 12; i++) {
            if (chat("pool-model", false).status() == 200) {
                ok++;
            }
        }
        // pool-a fails at most twice before its breaker opens; from then on every call goes to pool-b
        assertThat(poolA.requests()).isEqualTo(2);
        assertThat(ok).isEqualTo(10);
        assertThat(poolB.requests()).isEqualTo(10);

        poolB.failWith(500);
        Http.await(Duration.ofSeconds(10), "pool-b's breaker opens", () -> chat("pool-model", false).status() == 503);
        Http.Response none = chat("pool-model", false);
        assertThat(none.status()).isEqualTo(503);
        assertThat(none.body()).contains("\"code\":\"upstream_unavailable\"");
        assertThat(Long.parseLong(none.header("Retry-After"))).isGreaterThan(60L);
    }

    @Test
    void slowNonStreamingCallTimesOut() {
        slow.reset().delay(Duration.ofSeconds(4));
        Http.Response r = chat("slow-model", false);
        assertThat(r.status()).isEqualTo(504);
        assertThat(r.body()).contains("\"code\":\"upstream_timeout\"");
        assertThat(Duration.ofNanos(r.nanos())).isLessThan(Duration.ofSeconds(3));
        Http.await(Duration.ofSeconds(10), "the backend sees the call abandoned", () -> slow.inFlight() == 0);
    }

    @Test
    void streamThatDoesNotStartTimesOutButAFlowingStreamIsNeverCut() {
        slow.reset().delay(Duration.ofSeconds(4));
        Http.Response late = chat("slow-model", true);
        assertThat(late.status()).isEqualTo(504);
        assertThat(late.body()).contains("\"code\":\"upstream_timeout\"");

        // 8 events 400 ms apart: 3 s in all, three times the 1 s timeouts, yet it passes whole
        slow.reset().eventInterval(Duration.ofMillis(400)).completionTokens(8);
        Http.Response flowing = chat("slow-model", true);
        assertThat(flowing.status()).isEqualTo(200);
        assertThat(flowing.body()).endsWith("data: [DONE]\n\n");
        assertThat(flowing.body().split("chat.completion.chunk", -1)).hasSize(9);
        assertThat(Duration.ofNanos(flowing.nanos())).isGreaterThan(Duration.ofMillis(2500));
    }

    @Test
    void globalCeilingShedsLoadAtOnceAndFreesSlots() {
        shared.reset().delay(Duration.ofSeconds(3));
        List<Mono<Http.Response>> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Mono<Http.Response> call = Http.chat(gateway.apiPort(), key, "test-model", false).cache();
            call.subscribe();
            held.add(call);
        }
        LoadSheddingFilter shedding = gateway.bean(LoadSheddingFilter.class);
        Http.await(Duration.ofSeconds(10), "four requests in flight", () -> shared.inFlight() == 4);

        Http.Response shed = chat("test-model", false);
        assertThat(shed.status()).isEqualTo(503);
        assertThat(shed.body()).contains("\"code\":\"overloaded\"");
        assertThat(shed.header("Retry-After")).isEqualTo("1");
        assertThat(Duration.ofNanos(shed.nanos())).isLessThan(Duration.ofSeconds(1));
        assertThat(shared.requests()).isEqualTo(4);

        Flux.merge(held).collectList().block(Duration.ofSeconds(30))
                .forEach(r -> assertThat(r.status()).isEqualTo(200));
        Http.await(Duration.ofSeconds(5), "slots freed", () -> shedding.inFlight() == 0);
        shared.delay(Duration.ZERO);
        assertThat(chat("test-model", false).status()).isEqualTo(200);
    }

    @Test
    void resilience4jMetricsAreOnPrometheus() {
        String metrics = gateway.admin().get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(metrics).contains("resilience4j_circuitbreaker_state{")
                .contains("name=\"flaky\"")
                .contains("resilience4j_bulkhead_available_concurrent_calls{")
                .contains("name=\"narrow\"");
    }
}
