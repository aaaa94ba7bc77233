package io.usageguard.ratelimit;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;

import io.usageguard.testsupport.GatewayInstance;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Flux;

/** Small helpers shared by the rate limit tests. */
final class RateLimitTestSupport {

    private RateLimitTestSupport() {
    }

    /** Every window generous, so that a test's one tight window is hit first. */
    static final Map<String, Object> LOOSE = Map.of("rpm", 1000, "rph", 1000, "rpd", 1000,
            "tpm", 10_000_000, "tpd", 10_000_000, "ipm", 1000, "ipd", 1000, "concurrency", 100);

    /** {@code usage-guard.tiers.<tier>.*}: the loose limits with the given ones instead. */
    static Map<String, Object> tier(String tier, Map<String, Object> tight) {
        Map<String, Object> props = new LinkedHashMap<>();
        Map<String, Object> all = new LinkedHashMap<>(LOOSE);
        all.putAll(tight);
        all.forEach((k, v) -> props.put("usage-guard.tiers." + tier + "." + k, v));
        return props;
    }

    static EntityExchangeResult<String> chat(GatewayInstance g, String key, String model, int maxTokens) {
        return g.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"" + model + "\",\"max_tokens\":" + maxTokens
                        + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}")
                .exchange().expectBody(String.class).returnResult();
    }

    static EntityExchangeResult<String> images(GatewayInstance g, String key, String model, int n) {
        return g.api().post().uri("/v1/images/generations").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"" + model + "\",\"prompt\":\"a cat\",\"n\":" + n + "}")
                .exchange().expectBody(String.class).returnResult();
    }

    /**
     * {@code n} chat requests with the key, {@code concurrency} at a time, sent to the gateways in
     * turn over real connections; how many got each status.
     */
    static Map<Integer, Integer> burst(List<GatewayInstance> gateways, String key, int n, int concurrency) {
        List<WebClient> clients = gateways.stream().map(g -> WebClient.create("http://127.0.0.1:" + g.apiPort())).toList();
        Map<Integer, Integer> statuses = new TreeMap<>();
        Flux.range(0, n).flatMap(i -> clients.get(i % clients.size()).post().uri("/v1/chat/completions")
                        .header("Authorization", "Bearer " + key).contentType(MediaType.APPLICATION_JSON)
                        .bodyValue("{\"model\":\"test-model\",\"max_tokens\":5,\"messages\":[]}")
                        .exchangeToMono(res -> res.releaseBody().thenReturn(res.statusCode().value())), concurrency)
                .collectList().block(Duration.ofSeconds(120))
                .forEach(s -> statuses.merge(s, 1, Integer::sum));
        return statuses;
    }

    /** The statuses of a {@link #burst} other than 200 and 429. */
    static Map<Integer, Integer> unexpected(Map<Integer, Integer> statuses) {
        Map<Integer, Integer> other = new TreeMap<>(statuses);
        other.remove(200);
        other.remove(429);
        return other;
    }

    static String header(EntityExchangeResult<?> r, String name) {
        return r.getResponseHeaders().getFirst(name);
    }

    static void await(String what, BooleanSupplier condition) {
        io.usageguard.testsupport.Http.await(Duration.ofSeconds(20), what, condition);
    }

    /** The value of one Prometheus sample line starting with {@code prefix}, or 0 when absent. */
    static double metric(GatewayInstance g, String prefix) {
        String text = g.admin().get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        for (String line : text.split("\n")) {
            if (line.startsWith(prefix)) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    /** Waits until {@code store} answers (its connection to Redis is up), with one take of a throwaway bucket. */
    static void awaitConnected(RedisLimitStore store, String probeKey) {
        BucketSpec probe = BucketSpec.of(Scope.ACCOUNT, Window.Unit.REQUESTS, new Window[]{Window.RPM}, new Long[]{10L});
        io.usageguard.testsupport.Http.await(Duration.ofSeconds(20), "store connected", () -> {
            try {
                store.consume(probeKey, probe, 1, 1).get(5, java.util.concurrent.TimeUnit.SECONDS);
                return true;
            } catch (Exception e) {
                return false;
            }
        });
    }
}
