package io.usageguard.sharing;

import static io.usageguard.sharing.SharingTestSupport.chatFrom;
import static io.usageguard.sharing.SharingTestSupport.metric;
import static org.assertj.core.api.Assertions.assertThat;

import io.usageguard.admin.AdminViews;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.PrivateRedis;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Redis goes away (this test's own redis-server, killed): requests are not failed by it, the
 * failures are counted, and the default {@code local-fallback} keeps detecting sharing from this
 * replica's own view.
 */
class KeySharingRedisOutageIntegrationTest {

    static PrivateRedis redisServer;
    static StubInferenceServer backend;
    static GatewayInstance gateway;

    @BeforeAll
    static void start() throws Exception {
        redisServer = PrivateRedis.start();
        int port = redisServer.port();
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri())
                .property("usage-guard.state.store", "redis")
                .property("usage-guard.state.redis.url", "redis://127.0.0.1:" + port)
                .property("usage-guard.state.redis.command-timeout", "2s")
                .property("usage-guard.client-ip.trusted-proxies", "127.0.0.1/32")
                .property("usage-guard.sharing.action", "suspend")
                .property("usage-guard.sharing.warn-networks", "2")
                .property("usage-guard.sharing.block-networks", "3")
                .start();
        gateway.account("acme", "L1", "INDIVIDUAL");
    }

    @AfterAll
    static void stop() {
        gateway.close();
        backend.close();
        redisServer.close();
    }

    @Test
    void redisFailuresDoNotFailRequests() throws Exception {
        AdminViews.IssuedKey k = gateway.issueKey("acme");
        chatFrom(gateway, k.key(), "10.8.1.1").expectStatus().isOk();
        String errors = "usage_guard_state_store_errors_total{store=\"redis\"}";
        double before = metric(gateway, errors);

        redisServer.kill();

        chatFrom(gateway, k.key(), "10.8.2.1").expectStatus().isOk();
        chatFrom(gateway, k.key(), "10.8.3.1").expectStatus().isOk();
        assertThat(metric(gateway, errors)).isGreaterThan(before);
        // local-fallback: this replica's own four networks still cross block-networks
        chatFrom(gateway, k.key(), "10.8.4.1").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("api_key_suspended");
    }
}
