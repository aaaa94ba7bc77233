package io.usageguard.sharing;

import static io.usageguard.sharing.SharingTestSupport.chatFrom;
import static io.usageguard.sharing.SharingTestSupport.chatVia;
import static io.usageguard.sharing.SharingTestSupport.eventually;
import static io.usageguard.sharing.SharingTestSupport.events;
import static io.usageguard.sharing.SharingTestSupport.gatewaySuspensions;
import static io.usageguard.sharing.SharingTestSupport.key;
import static io.usageguard.sharing.SharingTestSupport.putSharing;
import static io.usageguard.sharing.SharingTestSupport.reinstate;
import static io.usageguard.sharing.SharingTestSupport.sharing;
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
import org.junit.jupiter.api.Test;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Key sharing in local state mode with {@code action=suspend}: a key used from more than
 * block-networks (3) distinct /24s within the window is suspended; the test connects as the trusted
 * proxy 127.0.0.1 and names the client in X-Forwarded-For.
 */
class KeySharingSuspendIntegrationTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static MutableClock clock = new MutableClock();

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri())
                .property("usage-guard.client-ip.trusted-proxies", "127.0.0.1/32")
                .property("usage-guard.sharing.action", "suspend")
                .property("usage-guard.sharing.warn-networks", "2")
                .property("usage-guard.sharing.block-networks", "3")
                .property("usage-guard.sharing.window", "1h")
                .property("usage-guard.sharing.sub-windows", "12")
                .clock(clock).start();
        gateway.account("acme", "L1", "INDIVIDUAL");
    }

    @AfterAll
    static void stop() {
        gateway.close();
        backend.close();
    }

    @Test
    void keyUsedFromMoreThanBlockNetworksIsSuspendedAndReinstatingClearsItsSignals() {
        AdminViews.IssuedKey k = gateway.issueKey("acme");
        for (String ip : List.of("10.1.1.5", "10.1.2.5", "10.1.3.5")) {
            chatFrom(gateway, k.key(), ip).expectStatus().isOk();
        }
        // the fourth distinct /24 crosses block-networks: this very request is refused
        chatFrom(gateway, k.key(), "10.1.4.5").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("api_key_suspended")
                .jsonPath("$.error.type").isEqualTo("permission_error")
                .jsonPath("$.error.message").value(m -> assertThat((String) m)
                        .contains("Contact support").contains("new key").doesNotContain(k.key()));
        // and so is every later one, from anywhere
        chatFrom(gateway, k.key(), "10.1.1.5").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("api_key_suspended");

        eventually("the registry shows the suspension", () -> "SUSPENDED".equals(key(gateway, k.keyId()).get("status")));
        Map<String, Object> view = key(gateway, k.keyId());
        assertThat(view.get("statusReason")).isEqualTo("suspected_transfer");
        Map<String, Object> signals = sharing(gateway, k.keyId());
        assertThat(signals.get("distinctNetworks")).isEqualTo(4);
        assertThat(signals.get("distinctAgents")).isEqualTo(1);
        assertThat(signals.get("blockNetworks")).isEqualTo(3);
        assertThat(signals.get("actionTaken")).isEqualTo("suspend");
        assertThat(signals.get("crossedAt")).isEqualTo(clock.instant().toString());
        assertThat(signals.get("window")).isEqualTo("1h0m0s");
        // the audit trail has it once, by the gateway
        List<Map<String, Object>> suspensions = gatewaySuspensions(gateway, "acme", k.keyId());
        assertThat(suspensions).hasSize(1);
        assertThat(suspensions.get(0).get("reason")).isEqualTo("suspected_transfer");
        assertThat(backend.requests()).isPositive();

        // reinstating clears the window: the same networks are fine again
        reinstate(gateway, k.keyId());
        Map<String, Object> cleared = sharing(gateway, k.keyId());
        assertThat(cleared.get("distinctNetworks")).isEqualTo(0);
        assertThat(cleared.get("actionTaken")).isNull();
        for (String ip : List.of("10.1.1.5", "10.1.2.5", "10.1.3.5")) {
            chatFrom(gateway, k.key(), ip).expectStatus().isOk();
        }
        assertThat(sharing(gateway, k.keyId()).get("distinctNetworks")).isEqualTo(3);
        assertThat(gatewaySuspensions(gateway, "acme", k.keyId())).hasSize(1);
    }

    @Test
    void manyAddressesOfOneNetworkAreNotFlagged() {
        AdminViews.IssuedKey k = gateway.issueKey("acme");
        for (int host = 1; host <= 40; host++) {
            chatFrom(gateway, k.key(), "198.51.100." + host).expectStatus().isOk();
        }
        Map<String, Object> signals = sharing(gateway, k.keyId());
        assertThat(signals.get("distinctNetworks")).isEqualTo(1);
        assertThat(signals.get("crossedAt")).isNull();
        assertThat(key(gateway, k.keyId()).get("status")).isEqualTo("ACTIVE");
    }

    @Test
    void xForwardedForFromAnUntrustedPeerChangesNothing() {
        AdminViews.IssuedKey k = gateway.issueKey("acme");
        WebTestClient fromElsewhere = SharingTestSupport.untrustedPeer(gateway);
        for (int net = 1; net <= 10; net++) {
            chatVia(fromElsewhere, k.key(), "10.9." + net + ".1", null).expectStatus().isOk();
        }
        // every request counted as its real peer, 127.0.0.2 (network 127.0.0.0/24)
        assertThat(sharing(gateway, k.keyId()).get("distinctNetworks")).isEqualTo(1);
        assertThat(key(gateway, k.keyId()).get("status")).isEqualTo("ACTIVE");
    }

    @Test
    void activityOlderThanTheWindowNoLongerCounts() {
        AdminViews.IssuedKey k = gateway.issueKey("acme");
        for (String ip : List.of("10.2.1.5", "10.2.2.5", "10.2.3.5")) {
            chatFrom(gateway, k.key(), ip).expectStatus().isOk();
        }
        assertThat(sharing(gateway, k.keyId()).get("distinctNetworks")).isEqualTo(3);
        clock.advance(Duration.ofMinutes(30));
        assertThat(sharing(gateway, k.keyId()).get("distinctNetworks")).isEqualTo(3);
        clock.advance(Duration.ofMinutes(31)); // 61 minutes later: all of it left the 1 h window
        assertThat(sharing(gateway, k.keyId()).get("distinctNetworks")).isEqualTo(0);
        // three new networks: 3 in the window, not more than block-networks (6 without ageing)
        for (String ip : List.of("10.2.4.5", "10.2.5.5", "10.2.6.5")) {
            chatFrom(gateway, k.key(), ip).expectStatus().isOk();
        }
        assertThat(sharing(gateway, k.keyId()).get("distinctNetworks")).isEqualTo(3);
        assertThat(key(gateway, k.keyId()).get("status")).isEqualTo("ACTIVE");
    }

    @Test
    void allowlistedKeyIsNeverFlagged() {
        AdminViews.IssuedKey k = gateway.issueKey("acme");
        putSharing(gateway, k.keyId(), Map.of("exempt", true, "reason", "customer fleet, ticket 42"));
        for (int net = 1; net <= 12; net++) {
            chatFrom(gateway, k.key(), "10.3." + net + ".9").expectStatus().isOk();
        }
        Map<String, Object> view = key(gateway, k.keyId());
        assertThat(view.get("status")).isEqualTo("ACTIVE");
        assertThat(view.get("sharingExempt")).isEqualTo(true);
        assertThat(sharing(gateway, k.keyId()).get("distinctNetworks")).isEqualTo(0);
        assertThat(events(gateway, "acme")).anySatisfy(e -> {
            assertThat(e.get("action")).isEqualTo("key_sharing_settings");
            assertThat(e.get("keyId")).isEqualTo(k.keyId());
            assertThat(e.get("actor")).isEqualTo("admin");
            assertThat((String) e.get("reason")).contains("ticket 42").contains("exempt true");
        });
    }

    @Test
    void perKeyThresholdsRaiseTheLimit() {
        AdminViews.IssuedKey k = gateway.issueKey("acme");
        putSharing(gateway, k.keyId(), Map.of("warnNetworks", 5, "blockNetworks", 6));
        for (int net = 1; net <= 6; net++) {
            chatFrom(gateway, k.key(), "10.4." + net + ".1").expectStatus().isOk();
        }
        Map<String, Object> signals = sharing(gateway, k.keyId());
        assertThat(signals.get("blockNetworks")).isEqualTo(6);
        assertThat(signals.get("thresholdsOverridden")).isEqualTo(true);
        chatFrom(gateway, k.key(), "10.4.7.1").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("api_key_suspended");
    }

    @Test
    void invalidSharingSettingsAreRefused() {
        AdminViews.IssuedKey k = gateway.issueKey("acme");
        gateway.admin().put().uri("/admin/keys/{id}/sharing", k.keyId())
                .contentType(org.springframework.http.MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("warnNetworks", 9, "blockNetworks", 3)).exchange().expectStatus().isBadRequest();
        gateway.admin().put().uri("/admin/keys/{id}/sharing", "key_nope")
                .contentType(org.springframework.http.MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("exempt", true)).exchange().expectStatus().isNotFound();
    }
}
