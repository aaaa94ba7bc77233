package io.usageguard.clientip;

import java.util.List;
import java.util.Map;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/** A client that sends X-Forwarded-For itself (no trusted proxy in between) cannot pass a key's allowlist. */
class SpoofedForwardedForIntegrationTest {

    @Test
    void spoofedForwardedForDoesNotChangeTheAddressTheAllowlistSees() {
        try (StubInferenceServer backend = StubInferenceServer.start();
             GatewayInstance gateway = GatewayInstance.builder(backend.uri())
                     .property("usage-guard.client-ip.trusted-proxies", "10.0.0.0/8") // 127.0.0.1 is not trusted
                     .start()) {
            gateway.account("spoof", "L1", "INDIVIDUAL");
            String office = gateway.issueKey("spoof", Map.of("allowedCidrs", List.of("203.0.113.0/24"))).key();
            String local = gateway.issueKey("spoof", Map.of("allowedCidrs", List.of("127.0.0.0/8"))).key();
            for (String forged : List.of("203.0.113.7", "203.0.113.7, 10.0.0.1", "10.0.0.1")) {
                gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + office)
                        .header("X-Forwarded-For", forged).contentType(MediaType.APPLICATION_JSON)
                        .bodyValue("{\"model\":\"test-model\"}").exchange()
                        .expectStatus().isForbidden().expectBody().jsonPath("$.error.code").isEqualTo("ip_not_allowed");
            }
            // the real peer address still counts
            gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + local)
                    .header("X-Forwarded-For", "203.0.113.7").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue("{\"model\":\"test-model\"}").exchange().expectStatus().isOk();
        }
    }
}
