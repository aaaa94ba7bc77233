package io.usageguard.authlimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.identity.ApiKey;
import io.usageguard.identity.ApiKeyFormat;
import io.usageguard.identity.KeyLookup;
import io.usageguard.registry.RegistryRepository;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.MutableClock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.context.support.GenericApplicationContext;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * OWASP API2: after max (5) invalid keys from one client address within the window, that address
 * gets 429 and the key store is not asked any more. The store is the real registry, seen through a
 * wrapper that counts the lookups that reach it.
 */
class AuthFailureLimitIntegrationTest {

    static final AtomicInteger lookups = new AtomicInteger();
    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static MutableClock clock = new MutableClock();
    static String validKey;

    /** The registry's key lookup, counted. */
    record CountingKeyLookup(KeyLookup delegate) implements KeyLookup {
        @Override
        public Optional<ApiKey> findByHash(String sha256Hex) {
            lookups.incrementAndGet();
            return delegate.findByHash(sha256Hex);
        }
    }

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri())
                .property("usage-guard.client-ip.trusted-proxies", "127.0.0.1/32")
                .property("usage-guard.auth-failures.max", "5")
                .property("usage-guard.auth-failures.window", "1m")
                .initializer(ctx -> ((GenericApplicationContext) ctx).registerBean("countingKeyLookup",
                        KeyLookup.class, () -> new CountingKeyLookup(ctx.getBean(RegistryRepository.class)),
                        bd -> bd.setPrimary(true)))
                .clock(clock).start();
        gateway.account("acme", "L1", "INDIVIDUAL");
        validKey = gateway.issueKey("acme").key();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        backend.close();
    }

    @BeforeEach
    void nextWindow() {
        clock.advance(Duration.ofMinutes(2)); // every test starts with a clean slate
    }

    static WebTestClient.ResponseSpec chat(String key, String from) {
        return gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .header("X-Forwarded-For", from).contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\"}").exchange();
    }

    @Test
    void repeatedUnknownKeysFromOneAddressAreRefusedBeforeTheStoreIsAsked() {
        String attacker = "192.0.2.10";
        for (int i = 0; i < 5; i++) {
            int before = lookups.get();
            chat(ApiKeyFormat.generate(), attacker).expectStatus().isUnauthorized()
                    .expectBody().jsonPath("$.error.code").isEqualTo("invalid_api_key");
            assertThat(lookups.get()).isEqualTo(before + 1); // a well-formed unknown key is looked up
        }
        int afterFailures = lookups.get();
        for (int i = 0; i < 10; i++) {
            chat(ApiKeyFormat.generate(), attacker).expectStatus().isEqualTo(429)
                    .expectHeader().value("Retry-After", v -> assertThat(Long.parseLong(v)).isBetween(1L, 60L))
                    .expectBody().jsonPath("$.error.code").isEqualTo("rate_limit_exceeded")
                    .jsonPath("$.error.type").isEqualTo("rate_limit_error");
        }
        // even a valid key from that address waits (it cannot be told apart without a lookup)
        chat(validKey, attacker).expectStatus().isEqualTo(429);
        assertThat(lookups.get()).isEqualTo(afterFailures); // the store saw none of these

        // another address is not affected
        chat(ApiKeyFormat.generate(), "192.0.2.11").expectStatus().isUnauthorized();
        assertThat(lookups.get()).isEqualTo(afterFailures + 1);
        chat(validKey, "192.0.2.11").expectStatus().isOk();

        // after the window the address may try again
        clock.advance(Duration.ofSeconds(61));
        chat(validKey, attacker).expectStatus().isOk();
    }

    @Test
    void malformedKeysCountTooAndAreNeverLookedUp() {
        String attacker = "192.0.2.20";
        int before = lookups.get();
        for (int i = 0; i < 5; i++) {
            chat("sk-not-a-real-key-" + i, attacker).expectStatus().isUnauthorized();
        }
        chat(ApiKeyFormat.generate(), attacker).expectStatus().isEqualTo(429);
        assertThat(lookups.get()).isEqualTo(before);
    }

    @Test
    void fewerFailuresThanTheLimitDoNotBlock() {
        String clumsy = "192.0.2.30";
        for (int i = 0; i < 4; i++) {
            chat(ApiKeyFormat.generate(), clumsy).expectStatus().isUnauthorized();
        }
        chat(validKey, clumsy).expectStatus().isOk();
    }
}
