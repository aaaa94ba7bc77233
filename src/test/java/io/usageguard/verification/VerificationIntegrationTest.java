package io.usageguard.verification;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/** Real-name verification (agreement §1.4; privacy policy §1.1.2). */
class VerificationIntegrationTest {

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

    @org.junit.jupiter.api.BeforeEach
    void reset() {
        backend.reset();
    }

    @Test
    void unverifiedAccountsAreRefusedEvenForOrdinaryModels() {
        gateway.account("anon", "L1", "NONE");
        String key = gateway.issueKey("anon").key();
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("real_name_verification_required")
                .jsonPath("$.error.message").value(m -> assertThat((String) m).contains("individual"));
        assertThat(backend.requests()).isZero();
    }

    @Test
    void individualsCannotUseEnterpriseModelsAndTheMessageSaysWhatIsNeeded() {
        gateway.account("person", "L1", "INDIVIDUAL");
        String key = gateway.issueKey("person").key();
        gateway.chat(key, "test-model").expectStatus().isOk();
        gateway.chat(key, "enterprise-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("real_name_verification_required")
                .jsonPath("$.error.message").value(m -> assertThat((String) m).contains("enterprise"));
        gateway.account("person", "L1", "ENTERPRISE");
        gateway.chat(key, "enterprise-model").expectStatus().isOk();
    }

    @Test
    void pendingReverificationRefusesUntilCompleted() {
        gateway.account("reverify", "L1", "INDIVIDUAL");
        String key = gateway.issueKey("reverify").key();
        gateway.chat(key, "test-model").expectStatus().isOk();
        gateway.admin().post().uri("/admin/accounts/reverify/require-reverification")
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("reason", "identity document expired"))
                .exchange().expectStatus().isOk().expectBody().jsonPath("$.reverificationRequired").isEqualTo(true);
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("real_name_verification_required")
                .jsonPath("$.error.message").value(m -> assertThat((String) m).contains("re-verification"));
        // the KYC system reports the outcome
        gateway.admin().put().uri("/admin/accounts/reverify").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("verification", "INDIVIDUAL", "reverificationRequired", false))
                .exchange().expectStatus().isOk();
        gateway.chat(key, "test-model").expectStatus().isOk();
    }

    @Test
    void modelListShowsOnlyWhatTheAccountMayUse() {
        gateway.account("lister", "L1", "INDIVIDUAL");
        String key = gateway.issueKey("lister").key();
        gateway.api().get().uri("/v1/models").header("Authorization", "Bearer " + key).exchange()
                .expectStatus().isOk()
                .expectBody().jsonPath("$.object").isEqualTo("list")
                .jsonPath("$.data[*].id").value(ids -> assertThat(ids.toString())
                        .contains("test-model").doesNotContain("enterprise-model"));
        gateway.api().get().uri("/v1/models/enterprise-model").header("Authorization", "Bearer " + key).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.error.code").isEqualTo("model_not_found");
        gateway.api().get().uri("/v1/models/test-model").header("Authorization", "Bearer " + key).exchange()
                .expectStatus().isOk().expectBody().jsonPath("$.id").isEqualTo("test-model");
    }
}
