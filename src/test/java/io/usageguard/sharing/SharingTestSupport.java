package io.usageguard.sharing;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import io.usageguard.testsupport.GatewayInstance;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.MediaType;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.netty.http.client.HttpClient;

/** Requests "from" a client network: the test is the trusted proxy (127.0.0.1) and says so in X-Forwarded-For. */
final class SharingTestSupport {

    private SharingTestSupport() {
    }

    static WebTestClient.ResponseSpec chatVia(WebTestClient client, String key, String forwardedFor, String userAgent) {
        WebTestClient.RequestBodySpec r = client.post().uri("/v1/chat/completions")
                .header("Authorization", "Bearer " + key)
                .header("User-Agent", userAgent == null ? "OpenAI/Python 1.40.0" : userAgent)
                .contentType(MediaType.APPLICATION_JSON);
        if (forwardedFor != null) {
            r = r.header("X-Forwarded-For", forwardedFor);
        }
        return r.bodyValue("{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
                .exchange();
    }

    static WebTestClient.ResponseSpec chatFrom(GatewayInstance g, String key, String forwardedFor) {
        return chatVia(g.api(), key, forwardedFor, null);
    }

    /** A client whose connections come from 127.0.0.2: a peer that is not a trusted proxy. */
    static WebTestClient untrustedPeer(GatewayInstance g) {
        HttpClient http = HttpClient.create().bindAddress(() -> new InetSocketAddress("127.0.0.2", 0));
        return WebTestClient.bindToServer(new ReactorClientHttpConnector(http))
                .baseUrl("http://127.0.0.1:" + g.apiPort()).responseTimeout(Duration.ofSeconds(30)).build();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> key(GatewayInstance g, String keyId) {
        return g.admin().get().uri("/admin/keys/{id}", keyId).exchange().expectStatus().isOk()
                .expectBody(new ParameterizedTypeReference<Map<String, Object>>() {
                }).returnResult().getResponseBody();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> sharing(GatewayInstance g, String keyId) {
        return (Map<String, Object>) key(g, keyId).get("sharing");
    }

    static List<Map<String, Object>> events(GatewayInstance g, String accountId) {
        return g.admin().get().uri("/admin/accounts/{id}/events", accountId).exchange().expectStatus().isOk()
                .expectBody(new ParameterizedTypeReference<List<Map<String, Object>>>() {
                }).returnResult().getResponseBody();
    }

    static List<Map<String, Object>> gatewaySuspensions(GatewayInstance g, String accountId, String keyId) {
        return events(g, accountId).stream()
                .filter(e -> keyId.equals(e.get("keyId")) && "key_suspended".equals(e.get("action"))
                        && "gateway".equals(e.get("actor")))
                .toList();
    }

    static void reinstate(GatewayInstance g, String keyId) {
        g.admin().post().uri("/admin/keys/{id}/reinstate", keyId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reason", "reviewed: one customer's fleet")).exchange().expectStatus().isOk();
    }

    static void putSharing(GatewayInstance g, String keyId, Map<String, Object> body) {
        g.admin().put().uri("/admin/keys/{id}/sharing", keyId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(body).exchange().expectStatus().isOk();
    }

    /** The value of a Prometheus sample on the management port, 0 if absent. */
    static double metric(GatewayInstance g, String sample) {
        String text = g.admin().get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        for (String line : text.split("\n")) {
            if (line.startsWith(sample + " ")) {
                return Double.parseDouble(line.substring(sample.length() + 1).trim());
            }
        }
        return 0;
    }

    static void eventually(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 20 s: " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
