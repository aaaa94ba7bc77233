package io.usageguard.propagation;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;

import io.usageguard.admin.AdminViews;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.Registries;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/**
 * Two gateway replicas sharing the real PostgreSQL and Redis: a change made through one replica's
 * admin API is in force on the other within 1 s (contract §2), although both cache keys and accounts.
 */
class ReplicaPropagationTest {

    static StubInferenceServer backend;
    static GatewayInstance a;
    static GatewayInstance b;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        String schema = "ug_repl_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        String prefix = "ugtest:" + UUID.randomUUID() + ":";
        Map<String, Object> shared = Map.of(
                "usage-guard.state.store", "redis",
                "usage-guard.state.redis.url", "redis://127.0.0.1:6379",
                "usage-guard.state.redis.key-prefix", prefix,
                // a long refresh: only the invalidation message can make the other replica see a change in time
                "usage-guard.registry.cache.refresh", "10m");
        a = GatewayInstance.builder(backend.uri()).properties(Registries.postgres(schema)).properties(shared).start();
        b = GatewayInstance.builder(backend.uri()).properties(Registries.postgres(schema)).properties(shared).start();
    }

    @AfterAll
    static void stop() {
        a.close();
        b.close();
        backend.close();
    }

    @Test
    void aSuspensionOnOneReplicaRefusesOnTheOtherWithinOneSecond() {
        a.account("shared-acct", "L1", "INDIVIDUAL");
        String key = a.issueKey("shared-acct").key();
        // both replicas have the key and account cached now
        a.chat(key, "test-model").expectStatus().isOk();
        b.chat(key, "test-model").expectStatus().isOk();

        a.admin().post().uri("/admin/accounts/shared-acct/suspend").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reason", "abuse report")).exchange().expectStatus().isOk();
        long t0 = System.nanoTime();
        a.chat(key, "test-model").expectStatus().isForbidden();
        assertThat(within(Duration.ofSeconds(1), () -> status(b, key) == 403))
                .as("replica b refuses within 1 s").isTrue();
        System.out.printf("suspension in force on the other replica after %d ms%n", (System.nanoTime() - t0) / 1_000_000);
        b.chat(key, "test-model").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("account_suspended");

        b.admin().post().uri("/admin/accounts/shared-acct/reinstate").exchange().expectStatus().isOk();
        assertThat(within(Duration.ofSeconds(1), () -> status(a, key) == 200)).isTrue();
    }

    @Test
    void aKeyRevokedOnOneReplicaIsRefusedOnTheOtherWithinOneSecond() {
        a.account("shared-keys", "L1", "INDIVIDUAL");
        AdminViews.IssuedKey key = a.issueKey("shared-keys");
        b.chat(key.key(), "test-model").expectStatus().isOk();
        a.admin().post().uri("/admin/keys/{id}/revoke", key.keyId()).exchange().expectStatus().isOk();
        assertThat(within(Duration.ofSeconds(1), () -> status(b, key.key()) == 401)).isTrue();
    }

    @Test
    void aNewKeyIsUsableOnTheOtherReplicaDespiteACachedMiss() {
        b.account("fresh", "L1", "INDIVIDUAL");
        // replica a has just learnt that some key does not exist...
        AdminViews.IssuedKey first = b.issueKey("fresh");
        a.chat(first.key(), "test-model").expectStatus().isOk();
        // ...and an imported key that a looked up before it existed becomes valid within 1 s
        String legacy = "legacy-" + UUID.randomUUID();
        a.chat(legacy, "test-model").expectStatus().isUnauthorized();
        b.admin().post().uri("/admin/accounts/fresh/keys/import").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("key", legacy)).exchange().expectStatus().isCreated();
        assertThat(within(Duration.ofSeconds(1), () -> status(a, legacy) == 200)).isTrue();
    }

    private static int status(GatewayInstance g, String key) {
        return g.chat(key, "test-model").returnResult(String.class).getStatus().value();
    }

    private static boolean within(Duration limit, BooleanSupplier condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        do {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.onSpinWait();
        } while (System.nanoTime() < deadline);
        return condition.getAsBoolean();
    }
}
