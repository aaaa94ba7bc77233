package io.usageguard.backend;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.buffer.Unpooled;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.shedding.LoadSheddingFilter;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.Http;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;
import reactor.netty.ByteBufMono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/** Server-sent events through the gateway: event by event, without buffering, cancelled with the client. */
class StreamingIntegrationTest {

    /** 800 events of 64 KiB: a 50 MiB stream. */
    static final int BIG_EVENTS = 800;
    static final byte[] BIG_EVENT = bigEvent(64 * 1024);

    static StubInferenceServer stub;
    static StubInferenceServer solo;
    static DisposableServer big;
    static GatewayInstance gateway;
    static String key;

    @BeforeAll
    static void start() {
        stub = StubInferenceServer.start();
        solo = StubInferenceServer.start();
        big = HttpServer.create().host("127.0.0.1").port(0)
                .route(r -> r.post("/v1/chat/completions", (req, res) -> req.receive().then(
                        res.header("Content-Type", "text/event-stream")
                                .send(Flux.range(0, BIG_EVENTS).map(i -> Unpooled.wrappedBuffer(BIG_EVENT)))
                                .then())))
                .bindNow();
        gateway = GatewayInstance.builder(stub.uri())
                .property("usage-guard.backends.solo.uri", solo.uri())
                .property("usage-guard.backends.solo.max-concurrent", 1)
                .property("usage-guard.models.[solo-model].backend", "solo")
                .property("usage-guard.backends.big.uri", "http://127.0.0.1:" + big.port())
                .property("usage-guard.models.[big-model].backend", "big")
                // one request in flight per account (limits module): a leaked slot would refuse the next stream
                .property("usage-guard.tiers.L1.concurrency", 1)
                .start();
        gateway.account("acme", "L1", "INDIVIDUAL");
        key = gateway.issueKey("acme").key();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        stub.close();
        solo.close();
        big.disposeNow(Duration.ofSeconds(2));
    }

    private static ByteBufFlux streamBody(String model) {
        String body = "{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        return Http.client(gateway.apiPort())
                .headers(h -> h.set("Authorization", "Bearer " + key).set("Content-Type", "application/json"))
                .post().uri("/v1/chat/completions").send(ByteBufMono.fromString(Mono.just(body)))
                .responseContent();
    }

    record Arrival(long nanos, String text) {
    }

    @Test
    void eventsReachTheClientOneByOneAsTheBackendSendsThem() {
        stub.reset().eventInterval(Duration.ofMillis(200)).completionTokens(10);
        List<Arrival> arrivals = streamBody("test-model").asString(StandardCharsets.UTF_8)
                .map(s -> new Arrival(System.nanoTime(), s)).collectList().block(Duration.ofSeconds(30));

        String whole = String.join("", arrivals.stream().map(Arrival::text).toList());
        assertThat(whole.split("chat.completion.chunk", -1)).hasSize(11);
        assertThat(whole).endsWith("data: [DONE]\n\n");
        long first = arrivals.stream().filter(a -> a.text().contains("chat.completion.chunk")).findFirst()
                .orElseThrow().nanos();
        long last = arrivals.get(arrivals.size() - 1).nanos();
        // the backend spends 1.8 s between its first and last event; a buffering gateway would deliver all at once
        assertThat(Duration.ofNanos(last - first)).isGreaterThan(Duration.ofMillis(1200));
        System.out.printf("first to last event: %d ms over %d reads%n", (last - first) / 1_000_000, arrivals.size());
        long separateArrivals = arrivals.stream().filter(a -> a.text().contains("chat.completion.chunk")).count();
        assertThat(separateArrivals).as("events arrive in separate reads").isGreaterThanOrEqualTo(5);
    }

    @Test
    void fiftyMegabyteStreamDoesNotGrowTheHeap() {
        long before = retainedHeap();
        AtomicLong received = new AtomicLong();
        long[] during = {-1};
        long total = (long) BIG_EVENTS * BIG_EVENT.length;
        streamBody("big-model").doOnNext(buf -> {
            long now = received.addAndGet(buf.readableBytes());
            if (during[0] < 0 && now > total * 9 / 10) {
                during[0] = retainedHeap(); // 45 MB through: a buffering gateway would hold them now
            }
        }).then().block(Duration.ofSeconds(120));

        assertThat(received.get()).isEqualTo(total);
        long growth = during[0] - before;
        System.out.printf("heap before %d, with 45 MB streamed %d, growth %d bytes%n", before, during[0], growth);
        assertThat(growth).as("heap retained while streaming 50 MB, bytes").isLessThan(16L * 1024 * 1024);
    }

    @Test
    void clientDisconnectCancelsTheBackendAndFreesEverySlot() {
        solo.reset().eventInterval(Duration.ofMillis(200)).completionTokens(50);
        List<String> got = streamBody("solo-model").asString(StandardCharsets.UTF_8).take(2)
                .collectList().block(Duration.ofSeconds(30));
        assertThat(String.join("", got)).contains("chat.completion.chunk");
        // take(2) cancelled the response: the client closed its connection mid-stream

        Http.await(Duration.ofSeconds(10), "the backend sees the cancellation", () -> solo.cancelled() >= 1);
        Http.await(Duration.ofSeconds(10), "the backend call is over", () -> solo.inFlight() == 0);
        BackendPool pool = gateway.bean(BackendPool.class);
        LoadSheddingFilter shedding = gateway.bean(LoadSheddingFilter.class);
        Http.await(Duration.ofSeconds(10), "the bulkhead slot is free",
                () -> pool.bulkhead("solo").getMetrics().getAvailableConcurrentCalls() == 1);
        Http.await(Duration.ofSeconds(10), "the in-flight slot is free", () -> shedding.inFlight() == 0);
        assertThat(solo.requests()).isEqualTo(1);
        assertThat(pool.breaker("solo").getMetrics().getNumberOfFailedCalls()).isZero();

        // the single bulkhead slot and the account's single concurrency slot serve the next stream
        solo.reset();
        Http.Response next = Http.chat(gateway.apiPort(), key, "solo-model", true).block(Duration.ofSeconds(30));
        assertThat(next.status()).isEqualTo(200);
        assertThat(next.body()).endsWith("data: [DONE]\n\n");
    }

    private static long retainedHeap() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static byte[] bigEvent(int size) {
        byte[] event = new byte[size];
        byte[] head = "data: {\"choices\":[{\"delta\":{\"content\":\"".getBytes(StandardCharsets.US_ASCII);
        byte[] tail = "\"}}]}\n\n".getBytes(StandardCharsets.US_ASCII);
        Arrays.fill(event, (byte) 'x');
        System.arraycopy(head, 0, event, 0, head.length);
        System.arraycopy(tail, 0, event, size - tail.length, tail.length);
        return event;
    }

}
