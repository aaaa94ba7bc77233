package io.usageguard.ratelimit;

import static io.usageguard.ratelimit.RateLimitTestSupport.await;
import static io.usageguard.ratelimit.RateLimitTestSupport.chat;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.MutableClock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Limits change without a restart and without resetting callers' usage: when a config file given
 * by {@code spring.config.additional-location} changes on disk, and on {@code POST /actuator/refresh}.
 */
class RateLimitReloadTest {

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static Path dir;
    static Path manual;
    static Path watched;
    static MutableClock clock = new MutableClock();

    @BeforeAll
    static void start() throws IOException {
        dir = Files.createTempDirectory("ug-reload");
        manual = dir.resolve("manual.yml");
        watched = dir.resolve("watched.yml");
        write(manual, "MANUAL", 2);
        write(watched, "WATCHED", 2);
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri()).clock(clock)
                .property("spring.config.additional-location", "file:" + manual + ",file:" + watched)
                // only the second file is watched, so the first one shows /actuator/refresh alone
                .property("usage-guard.config.watch", watched.toString())
                .property("usage-guard.config.watch-interval", "200ms")
                .start();
    }

    @AfterAll
    static void stop() throws IOException {
        gateway.close();
        backend.close();
        Files.deleteIfExists(manual);
        Files.deleteIfExists(watched);
        Files.deleteIfExists(dir);
    }

    static void write(Path file, String tier, int rpm) throws IOException {
        Files.writeString(file, "usage-guard:\n  tiers:\n    " + tier + ":\n      rpm: " + rpm + "\n");
    }

    static int status(String key) {
        return chat(gateway, key, "test-model", 10).getStatus().value();
    }

    @Test
    void aChangedFileOnDiskAppliesToTheNextRequestAndKeepsUsage() throws IOException {
        gateway.account("acct-watched", "WATCHED", "INDIVIDUAL");
        String key = gateway.issueKey("acct-watched").key();
        assertThat(status(key)).isEqualTo(200);
        assertThat(status(key)).isEqualTo(200);
        assertThat(status(key)).isEqualTo(429);
        write(watched, "WATCHED", 4);
        // refused requests take nothing, so asking until the new limit is seen is harmless
        await("the new limit", () -> status(key) == 200);
        // 2 of the new 4 were already used before the reload: one more passes, then it is refused
        assertThat(status(key)).isEqualTo(200);
        assertThat(status(key)).isEqualTo(429);
    }

    @Test
    void actuatorRefreshAppliesToTheNextRequestAndKeepsUsage() throws IOException {
        gateway.account("acct-manual", "MANUAL", "INDIVIDUAL");
        String key = gateway.issueKey("acct-manual").key();
        assertThat(status(key)).isEqualTo(200);
        assertThat(status(key)).isEqualTo(200);
        assertThat(status(key)).isEqualTo(429);
        write(manual, "MANUAL", 3);
        assertThat(status(key)).as("the unwatched file is not reloaded by itself").isEqualTo(429);
        gateway.admin().post().uri("/actuator/refresh").exchange().expectStatus().isOk();
        assertThat(status(key)).isEqualTo(200);
        assertThat(status(key)).isEqualTo(429);
    }
}
