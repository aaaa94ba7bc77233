package io.usageguard.identity;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.usageguard.admin.AdminViews;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.MutableClock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/** API keys end to end: the running gateway, a real stub backend, the admin API. */
class IdentityIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static MutableClock clock = new MutableClock();

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri())
                .property("usage-guard.client-ip.trusted-proxies", "127.0.0.1/32")
                .clock(clock).start();
        gateway.account("acme", "L1", "INDIVIDUAL");
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

    @Test
    void validKeyGetsTheBackendsJsonAnswer() {
        String key = gateway.issueKey("acme").key();
        gateway.chat(key, "test-model").expectStatus().isOk()
                .expectHeader().exists("x-request-id")
                .expectBody().jsonPath("$.object").isEqualTo("chat.completion")
                .jsonPath("$.usage.completion_tokens").isEqualTo(5);
        assertThat(backend.requests()).isEqualTo(1);
        // the client's key never reaches the backend
        assertThat(backend.lastHeaders()).doesNotContainKey("authorization").doesNotContainKey("x-api-key");
    }

    @Test
    void xApiKeyHeaderIsAccepted() {
        String key = gateway.issueKey("acme").key();
        gateway.api().post().uri("/v1/chat/completions").header("x-api-key", key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{\"model\":\"test-model\"}")
                .exchange().expectStatus().isOk();
        assertThat(backend.lastHeaders()).doesNotContainKey("x-api-key").doesNotContainKey("authorization");
    }

    @Test
    void validKeyGetsAStream() {
        String key = gateway.issueKey("acme").key();
        String body = gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\",\"stream\":true,\"messages\":[]}")
                .exchange().expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith(MediaType.TEXT_EVENT_STREAM)
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(body).contains("chat.completion.chunk").endsWith("data: [DONE]\n\n");
    }

    @Test
    void missingKeyIs401() {
        gateway.api().post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\"}").exchange()
                .expectStatus().isUnauthorized()
                .expectHeader().exists("x-request-id")
                .expectBody().jsonPath("$.error.code").isEqualTo("missing_api_key")
                .jsonPath("$.error.type").isEqualTo("authentication_error")
                .jsonPath("$.error.param").isEmpty();
    }

    @Test
    void unknownMalformedAndBadChecksumKeysAre401() {
        String valid = gateway.issueKey("acme").key();
        String badChecksum = valid.substring(0, valid.length() - 1) + (valid.endsWith("A") ? "B" : "A");
        for (String key : List.of(ApiKeyFormat.generate(), badChecksum, "short", "sk-with space in it 0123456789")) {
            gateway.chat(key, "test-model").expectStatus().isUnauthorized()
                    .expectBody().jsonPath("$.error.code").isEqualTo("invalid_api_key");
        }
        assertThat(backend.requests()).isZero();
    }

    @Test
    void revokedExpiredAndSuspendedKeys() {
        AdminViews.IssuedKey revoked = gateway.issueKey("acme");
        gateway.admin().post().uri("/admin/keys/{id}/revoke", revoked.keyId()).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reason", "leaked")).exchange().expectStatus().isOk();
        gateway.chat(revoked.key(), "test-model").expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.error.code").isEqualTo("api_key_revoked");

        AdminViews.IssuedKey suspended = gateway.issueKey("acme");
        gateway.admin().post().uri("/admin/keys/{id}/suspend", suspended.keyId()).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reason", "review")).exchange().expectStatus().isOk();
        gateway.chat(suspended.key(), "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("api_key_suspended")
                .jsonPath("$.error.type").isEqualTo("permission_error");

        AdminViews.IssuedKey expiring = gateway.issueKey("acme",
                Map.of("name", "short-lived", "expiresAt", clock.instant().plus(Duration.ofHours(1)).toString()));
        gateway.chat(expiring.key(), "test-model").expectStatus().isOk();
        clock.advance(Duration.ofHours(2));
        try {
            gateway.chat(expiring.key(), "test-model").expectStatus().isUnauthorized()
                    .expectBody().jsonPath("$.error.code").isEqualTo("api_key_expired");
        } finally {
            clock.advance(Duration.ofHours(-2));
        }
    }

    @Test
    void allowlistUsesTheRealClientAddress() {
        String key = gateway.issueKey("acme", Map.of("name", "office", "allowedCidrs", List.of("203.0.113.0/24"))).key();
        // the socket peer (127.0.0.1) is not in the allowlist
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("ip_not_allowed");
        // 127.0.0.1 is a trusted proxy here, so its X-Forwarded-For is believed
        gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .header("X-Forwarded-For", "203.0.113.7").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\"}").exchange().expectStatus().isOk();
    }
}
