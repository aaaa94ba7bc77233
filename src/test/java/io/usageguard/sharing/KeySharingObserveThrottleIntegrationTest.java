package io.usageguard.sharing;

import static io.usageguard.sharing.SharingTestSupport.chatFrom;
import static io.usageguard.sharing.SharingTestSupport.gatewaySuspensions;
import static io.usageguard.sharing.SharingTestSupport.key;
import static io.usageguard.sharing.SharingTestSupport.metric;
import static io.usageguard.sharing.SharingTestSupport.sharing;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;

import io.usageguard.admin.AdminViews;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.identity.ApiKey;
import io.usageguard.identity.KeyStatus;
import io.usageguard.ratelimit.LimitAdjustments;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The same crossing (more than 3 distinct /24s) under {@code observe} and under {@code throttle}. */
class KeySharingObserveThrottleIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance observing;
    static GatewayInstance throttling;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        observing = gateway("observe");
        throttling = gateway("throttle");
    }

    static GatewayInstance gateway(String action) {
        GatewayInstance g = GatewayInstance.builder(backend.uri())
                .property("usage-guard.client-ip.trusted-proxies", "127.0.0.1/32")
                .property("usage-guard.sharing.action", action)
                .property("usage-guard.sharing.warn-networks", "2")
                .property("usage-guard.sharing.block-networks", "3")
                .property("usage-guard.sharing.throttle-factor", "0.1")
                .start();
        g.account("acme", "L1", "INDIVIDUAL");
        return g;
    }

    @AfterAll
    static void stop() {
        observing.close();
        throttling.close();
        backend.close();
    }

    static final List<String> FOUR_NETWORKS = List.of("10.5.1.1", "10.5.2.1", "10.5.3.1", "10.5.4.1");

    @Test
    void observeOnlyCountsAndLogs() {
        AdminViews.IssuedKey k = observing.issueKey("acme");
        double observedBefore = metric(observing, "usage_guard_key_sharing_flags_total{action=\"observe\"}");
        double warnedBefore = metric(observing, "usage_guard_key_sharing_flags_total{action=\"warn\"}");
        for (String ip : FOUR_NETWORKS) {
            chatFrom(observing, k.key(), ip).expectStatus().isOk();
        }
        chatFrom(observing, k.key(), "10.5.5.1").expectStatus().isOk();
        assertThat(metric(observing, "usage_guard_key_sharing_flags_total{action=\"observe\"}"))
                .isEqualTo(observedBefore + 1); // once per crossing, not per request
        assertThat(metric(observing, "usage_guard_key_sharing_flags_total{action=\"warn\"}"))
                .isEqualTo(warnedBefore + 1);
        assertThat(metric(observing, "usage_guard_key_sharing_flags_total{action=\"suspend\"}")).isZero();
        assertThat(key(observing, k.keyId()).get("status")).isEqualTo("ACTIVE");
        assertThat(sharing(observing, k.keyId()).get("actionTaken")).isEqualTo("observe");
        assertThat(sharing(observing, k.keyId()).get("distinctNetworks")).isEqualTo(5);
        assertThat(gatewaySuspensions(observing, "acme", k.keyId())).isEmpty();
        // the metric carries no key or account label
        String text = observing.admin().get().uri("/actuator/prometheus").exchange()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(text).doesNotContain(k.keyId()).doesNotContain("acme");
    }

    @Test
    void throttleCutsTheKeysLimitsThroughLimitAdjustments() {
        AdminViews.IssuedKey k = throttling.issueKey("acme");
        ApiKey key = new ApiKey(k.keyId(), "acme", "test", k.prefix(), KeyStatus.ACTIVE, null, null, List.of(),
                false, Instant.now());
        LimitAdjustments adjustments = throttling.bean(LimitAdjustments.class);
        for (String ip : FOUR_NETWORKS.subList(0, 3)) {
            chatFrom(throttling, k.key(), ip).expectStatus().isOk();
        }
        assertThat(adjustments.keyFactor(key)).isEqualTo(1.0);
        chatFrom(throttling, k.key(), FOUR_NETWORKS.get(3)).expectStatus().isOk();
        assertThat(adjustments.keyFactor(key)).isEqualTo(0.1);
        assertThat(metric(throttling, "usage_guard_key_sharing_flags_total{action=\"throttle\"}")).isEqualTo(1);
        assertThat(key(throttling, k.keyId()).get("status")).isEqualTo("ACTIVE");
        assertThat(sharing(throttling, k.keyId()).get("actionTaken")).isEqualTo("throttle");
        // an exempt key is never throttled, and another key is untouched
        ApiKey exempt = new ApiKey(k.keyId(), "acme", "test", k.prefix(), KeyStatus.ACTIVE, null, null, List.of(),
                true, Instant.now());
        assertThat(adjustments.keyFactor(exempt)).isEqualTo(1.0);
        AdminViews.IssuedKey other = throttling.issueKey("acme");
        chatFrom(throttling, other.key(), "10.5.1.1").expectStatus().isOk();
        assertThat(adjustments.keyFactor(new ApiKey(other.keyId(), "acme", "test", other.prefix(), KeyStatus.ACTIVE,
                null, null, List.of(), false, Instant.now()))).isEqualTo(1.0);
    }
}
