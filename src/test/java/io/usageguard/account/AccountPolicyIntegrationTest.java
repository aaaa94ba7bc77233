package io.usageguard.account;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.MutableClock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/** Suspension, termination and minors (agreement §1.1, §1.3) through the admin API and the public API. */
class AccountPolicyIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static final MutableClock clock = new MutableClock();

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri()).clock(clock).start();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        backend.close();
    }

    private String accountWithKey(String id) {
        gateway.account(id, "L1", "INDIVIDUAL");
        return gateway.issueKey(id).key();
    }

    private void post(String path, Map<String, Object> body) {
        gateway.admin().post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchange().expectStatus().isOk();
    }

    @Test
    void suspendingAnAccountRefusesItsNextRequestAndReinstatingAllowsIt() {
        String key = accountWithKey("susp");
        gateway.chat(key, "test-model").expectStatus().isOk();
        post("/admin/accounts/susp/suspend", Map.of("reason", "unpaid invoice"));
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("account_suspended")
                .jsonPath("$.error.type").isEqualTo("permission_error");
        post("/admin/accounts/susp/reinstate", Map.of("reason", "paid"));
        gateway.chat(key, "test-model").expectStatus().isOk();
    }

    @Test
    void aTimedSuspensionLiftsByItselfAndItsMessageGivesTheEnd() {
        String key = accountWithKey("timed");
        Instant until = clock.instant().plus(Duration.ofHours(3));
        Map<String, Object> body = new HashMap<>();
        body.put("reason", "cool-down");
        body.put("until", until.toString());
        post("/admin/accounts/timed/suspend", body);
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("account_suspended")
                .jsonPath("$.error.message").value(m -> org.assertj.core.api.Assertions.assertThat((String) m)
                        .contains(until.toString()));
        clock.advance(Duration.ofHours(3));
        try {
            gateway.chat(key, "test-model").expectStatus().isOk();
            gateway.admin().get().uri("/admin/accounts/timed").exchange().expectStatus().isOk()
                    .expectBody().jsonPath("$.status").isEqualTo("ACTIVE");
        } finally {
            clock.advance(Duration.ofHours(-3));
        }
    }

    @Test
    void terminatedAccountsAreRefusedForGood() {
        String key = accountWithKey("term");
        post("/admin/accounts/term/terminate", Map.of("reason", "fraud"));
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("account_terminated");
        // termination is final
        gateway.admin().post().uri("/admin/accounts/term/reinstate").exchange().expectStatus().isEqualTo(409);
        gateway.chat(key, "test-model").expectStatus().isForbidden();
    }

    @Test
    void minorsAreRestricted() {
        gateway.admin().put().uri("/admin/accounts/kid").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("tier", "L1", "verification", "INDIVIDUAL", "minor", true))
                .exchange().expectStatus().isOk().expectBody().jsonPath("$.minor").isEqualTo(true);
        String key = gateway.issueKey("kid").key();
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("account_restricted");
    }

    @Test
    void refusalsComeInTheContractsOrder() {
        // a minor, unverified account that is suspended and then terminated: each step shows the stronger code
        gateway.admin().put().uri("/admin/accounts/order").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("tier", "L1", "verification", "NONE", "minor", true))
                .exchange().expectStatus().isOk();
        String key = gateway.issueKey("order").key();
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("account_restricted");
        post("/admin/accounts/order/suspend", Map.of("reason", "review"));
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("account_suspended");
        post("/admin/accounts/order/terminate", Map.of("reason", "closed"));
        gateway.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("account_terminated");
    }
}
