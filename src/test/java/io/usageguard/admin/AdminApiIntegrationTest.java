package io.usageguard.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/** The admin API of contract §2: token, management port only, audit trail, no secrets in answers. */
class AdminApiIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri()).start();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        backend.close();
    }

    @Test
    void refusesAMissingOrWrongToken() {
        WebTestClient anonymous = gateway.adminWithoutToken();
        anonymous.get().uri("/admin/accounts/x").exchange().expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.error.code").isEqualTo("invalid_admin_token");
        anonymous.get().uri("/admin/accounts/x").header("Authorization", "Bearer wrong-token").exchange()
                .expectStatus().isUnauthorized();
        anonymous.get().uri("/admin/accounts/x").header("Authorization", "Bearer " + GatewayInstance.ADMIN_TOKEN + "x")
                .exchange().expectStatus().isUnauthorized();
        anonymous.put().uri("/admin/accounts/x").header("Authorization", "Basic " + GatewayInstance.ADMIN_TOKEN)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("tier", "L1", "verification", "NONE"))
                .exchange().expectStatus().isUnauthorized();
        gateway.admin().get().uri("/admin/accounts/x").exchange().expectStatus().isNotFound();
        // reloading the configuration is an admin action too; health and metrics stay open
        anonymous.post().uri("/actuator/refresh").exchange().expectStatus().isUnauthorized();
        anonymous.get().uri("/actuator/health").exchange().expectStatus().isOk();
    }

    @Test
    void isNotServedOnThePublicPort() {
        gateway.account("owner", "L1", "INDIVIDUAL");
        String clientKey = gateway.issueKey("owner").key();
        // without a client key: refused like any public request
        gateway.api().get().uri("/admin/accounts/owner").header("Authorization", "Bearer " + GatewayInstance.ADMIN_TOKEN)
                .exchange().expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.error.code").isEqualTo("invalid_api_key");
        // with a valid client key: there is simply no such URL on the public port
        gateway.api().get().uri("/admin/accounts/owner").header("Authorization", "Bearer " + clientKey)
                .exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.error.code").isEqualTo("unknown_url");
        gateway.api().post().uri("/admin/accounts/owner/suspend").header("Authorization", "Bearer " + clientKey)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("reason", "x"))
                .exchange().expectStatus().isNotFound();
        gateway.admin().get().uri("/admin/accounts/owner").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("ACTIVE");
    }

    @Test
    void everyChangeIsInTheAuditTrailWithActorTimeAndReasonNewestFirst() {
        gateway.account("audited", "L1", "NONE");
        AdminViews.IssuedKey key = gateway.issueKey("audited");
        gateway.admin().put().uri("/admin/accounts/audited").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("verification", "INDIVIDUAL", "reason", "passport checked")).exchange()
                .expectStatus().isOk();
        post("/admin/accounts/audited/suspend", Map.of("reason", "payment overdue"));
        post("/admin/accounts/audited/reinstate", Map.of("reason", "paid"));
        post("/admin/accounts/audited/require-reverification", Map.of("reason", "document expired"));
        post("/admin/keys/" + key.keyId() + "/suspend", Map.of("reason", "looks shared"));
        post("/admin/keys/" + key.keyId() + "/reinstate", Map.of("reason", "customer explained"));
        post("/admin/keys/" + key.keyId() + "/revoke", Map.of("reason", "rotated"));
        post("/admin/accounts/audited/terminate", Map.of("reason", "closed at customer's request"));

        List<Map<String, Object>> events = gateway.admin().get().uri("/admin/accounts/audited/events").exchange()
                .expectStatus().isOk().expectBodyList(new org.springframework.core.ParameterizedTypeReference<Map<String, Object>>() {
                }).returnResult().getResponseBody();
        assertThat(events).extracting(e -> e.get("action")).containsExactly(
                "account_terminated", "key_revoked", "key_reinstated", "key_suspended", "reverification_required",
                "account_reinstated", "account_suspended", "verification_changed", "key_created", "account_created");
        assertThat(events).allSatisfy(e -> {
            assertThat(e.get("actor")).isEqualTo("admin");
            assertThat(e.get("time")).isNotNull();
        });
        assertThat(events).extracting(e -> e.get("reason")).contains("payment overdue", "paid", "document expired",
                "looks shared", "customer explained", "rotated", "closed at customer's request");
        assertThat(events.get(7).get("reason").toString()).contains("passport checked").contains("NONE -> INDIVIDUAL");
        assertThat(events.get(1).get("keyId")).isEqualTo(key.keyId());
    }

    @Test
    void answersShowKeyIdsAndPrefixesButNeverSecrets() {
        gateway.account("secretive", "L1", "INDIVIDUAL");
        AdminViews.IssuedKey issued = gateway.issueKey("secretive");
        assertThat(issued.key()).startsWith("sk-").hasSize(49);
        assertThat(issued.prefix()).isEqualTo(issued.key().substring(0, 7));
        String account = gateway.admin().get().uri("/admin/accounts/secretive").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        String keyView = gateway.admin().get().uri("/admin/keys/" + issued.keyId()).exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        for (String answer : List.of(account, keyView)) {
            assertThat(answer).contains(issued.keyId()).contains(issued.prefix())
                    .doesNotContain(issued.key()).doesNotContain(io.usageguard.identity.ApiKeyFormat.hash(issued.key()));
        }
    }

    @Test
    void badAdminInputIs400AndUnknownThingsAre404() {
        gateway.admin().put().uri("/admin/accounts/new-account").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("tier", "L1", "verification", "PASSPORT")).exchange().expectStatus().isBadRequest();
        gateway.admin().put().uri("/admin/accounts/new-account").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{not json").exchange().expectStatus().isBadRequest()
                .expectBody().jsonPath("$.error.code").isEqualTo("invalid_request");
        gateway.admin().post().uri("/admin/accounts/nobody/keys").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "x")).exchange().expectStatus().isNotFound();
        gateway.admin().post().uri("/admin/accounts/nobody/suspend").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reason", "x")).exchange().expectStatus().isNotFound();
        gateway.admin().get().uri("/admin/keys/key_nope").exchange().expectStatus().isNotFound();
        gateway.account("cidr", "L1", "INDIVIDUAL");
        gateway.admin().post().uri("/admin/accounts/cidr/keys").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("allowedCidrs", List.of("not-a-network"))).exchange().expectStatus().isBadRequest();
        gateway.admin().post().uri("/admin/accounts/cidr/suspend").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of()).exchange().expectStatus().isBadRequest(); // a reason is required
    }

    @Test
    void importedLegacyKeysWorkByHash() {
        gateway.account("legacy", "L1", "INDIVIDUAL");
        String legacy = "old-system-key:Zm9vYmFyYmF6cXV4";
        gateway.admin().post().uri("/admin/accounts/legacy/keys/import").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "from v1", "key", legacy)).exchange().expectStatus().isCreated()
                .expectBody().jsonPath("$.prefix").isEqualTo("old-sys").jsonPath("$.key").doesNotExist();
        gateway.chat(legacy, "test-model").expectStatus().isOk();
    }

    private void post(String path, Map<String, Object> body) {
        gateway.admin().post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchange().expectStatus().isOk();
    }
}
