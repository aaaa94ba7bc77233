package io.usageguard.sharing;

import static io.usageguard.sharing.SharingTestSupport.chatFrom;
import static io.usageguard.sharing.SharingTestSupport.eventually;
import static io.usageguard.sharing.SharingTestSupport.gatewaySuspensions;
import static io.usageguard.sharing.SharingTestSupport.key;
import static io.usageguard.sharing.SharingTestSupport.reinstate;
import static io.usageguard.sharing.SharingTestSupport.sharing;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.UUID;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.usageguard.admin.AdminViews;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.Registries;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two replicas sharing Redis and one PostgreSQL registry, {@code action=suspend},
 * block-networks 3: networks seen by each alone stay under it, networks seen by both together cross
 * it, and the key is suspended once.
 */
class KeySharingRedisIntegrationTest {

    static final String PREFIX = "ugtest:" + UUID.randomUUID().toString().substring(0, 8) + ":";
    static StubInferenceServer backend;
    static GatewayInstance a;
    static GatewayInstance b;
    static RedisClient redisClient;
    static StatefulRedisConnection<String, String> redis;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        Map<String, Object> schema = Registries.postgres(
                "ug_sharing_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12));
        a = gateway(schema);
        b = gateway(schema);
        a.account("acme", "L1", "INDIVIDUAL");
        redisClient = RedisClient.create("redis://127.0.0.1:6379");
        redis = redisClient.connect();
    }

    static GatewayInstance gateway(Map<String, Object> schema) {
        return GatewayInstance.builder(backend.uri())
                .properties(schema)
                .property("usage-guard.state.store", "redis")
                .property("usage-guard.state.redis.key-prefix", PREFIX)
                .property("usage-guard.state.redis.command-timeout", "2s")
                .property("usage-guard.client-ip.trusted-proxies", "127.0.0.1/32")
                .property("usage-guard.sharing.action", "suspend")
                .property("usage-guard.sharing.warn-networks", "2")
                .property("usage-guard.sharing.block-networks", "3")
                .start();
    }

    @AfterAll
    static void stop() {
        if (redis != null) {
            var keys = redis.sync().keys(PREFIX + "*");
            if (!keys.isEmpty()) {
                redis.sync().del(keys.toArray(String[]::new));
            }
            redis.close();
            redisClient.shutdown();
        }
        b.close();
        a.close();
        backend.close();
    }

    @Test
    void networksSeenByBothReplicasTogetherCrossTheThreshold() {
        AdminViews.IssuedKey k = a.issueKey("acme");
        chatFrom(a, k.key(), "10.7.1.1").expectStatus().isOk();
        chatFrom(a, k.key(), "10.7.2.1").expectStatus().isOk();
        chatFrom(b, k.key(), "10.7.3.1").expectStatus().isOk();
        // each replica saw at most 2 networks itself; together 3 (= block-networks, not more)
        assertThat(sharing(b, k.keyId()).get("distinctNetworks")).isEqualTo(3);
        assertThat(sharing(b, k.keyId()).get("store")).isEqualTo("redis");
        // A's third network is the fourth of the key: A alone has seen 3, so only the shared count crosses
        chatFrom(a, k.key(), "10.7.4.1").expectStatus().isForbidden()
                .expectBody().jsonPath("$.error.code").isEqualTo("api_key_suspended");
        // B refuses it too, once the suspension has reached its key cache (pub/sub)
        eventually("replica B refuses the suspended key", () -> chatFrom(b, k.key(), "10.7.3.1")
                .returnResult(String.class).getStatus().value() == 403);
        eventually("the suspension is in the shared registry",
                () -> "SUSPENDED".equals(key(b, k.keyId()).get("status")));
        assertThat(key(b, k.keyId()).get("statusReason")).isEqualTo("suspected_transfer");
        Map<String, Object> signals = sharing(b, k.keyId());
        assertThat(signals.get("distinctNetworks")).isEqualTo(4);
        assertThat(signals.get("actionTaken")).isEqualTo("suspend");
        assertThat(signals.get("crossedAt")).isNotNull();
        // flagged once: one suspension by the gateway in the audit trail, whichever replica saw it
        assertThat(gatewaySuspensions(a, "acme", k.keyId())).hasSize(1);
        // every Redis key of the window has a TTL
        var keys = redis.sync().keys(PREFIX + "sharing:{" + k.keyId() + "}*");
        assertThat(keys).isNotEmpty();
        for (String redisKey : keys) {
            assertThat(redis.sync().pttl(redisKey)).as(redisKey).isPositive();
        }

        // reinstating on B clears the shared window for both replicas
        reinstate(b, k.keyId());
        assertThat(redis.sync().keys(PREFIX + "sharing:{" + k.keyId() + "}*")).isEmpty();
        assertThat(sharing(a, k.keyId()).get("distinctNetworks")).isEqualTo(0);
        eventually("replica A serves the reinstated key", () -> chatFrom(a, k.key(), "10.7.1.1")
                .returnResult(String.class).getStatus().value() == 200);
        chatFrom(b, k.key(), "10.7.2.1").expectStatus().isOk();
        chatFrom(b, k.key(), "10.7.3.1").expectStatus().isOk();
        assertThat(sharing(a, k.keyId()).get("distinctNetworks")).isEqualTo(3);
        assertThat(key(a, k.keyId()).get("status")).isEqualTo("ACTIVE");
        assertThat(gatewaySuspensions(a, "acme", k.keyId())).hasSize(1);
    }

    @Test
    void oneNetworkOnBothReplicasIsOneNetwork() {
        AdminViews.IssuedKey k = a.issueKey("acme");
        for (int host = 1; host <= 10; host++) {
            chatFrom(host % 2 == 0 ? a : b, k.key(), "198.51.100." + host).expectStatus().isOk();
        }
        assertThat(sharing(a, k.keyId()).get("distinctNetworks")).isEqualTo(1);
        assertThat(key(a, k.keyId()).get("status")).isEqualTo("ACTIVE");
    }
}
