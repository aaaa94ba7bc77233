package io.usageguard.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/** The README's demo: the profile starts its own backend and seeds the key the README's curl uses. */
class DemoProfileTest {

    @Test
    void theReadmesDemoCurlWorks() throws IOException {
        String readme = Files.readString(Path.of("README.md"));
        Matcher m = Pattern.compile("Bearer (sk-[0-9A-Za-z]{46})").matcher(readme);
        assertThat(m.find()).as("README shows the demo key").isTrue();
        String key = m.group(1);
        assertThat(readme).contains("./mvnw spring-boot:run -Dspring-boot.run.profiles=demo");

        int backendPort;
        try (ServerSocket s = new ServerSocket(0)) {
            backendPort = s.getLocalPort();
        }
        try (GatewayInstance demo = GatewayInstance.builder("unused")
                .property("spring.profiles.active", "demo")
                .property("usage-guard.demo.backend-port", backendPort)
                .property("usage-guard.backends.default.uri", "http://127.0.0.1:" + backendPort)
                .property("usage-guard.admin.token", GatewayInstance.ADMIN_TOKEN)
                .start()) {
            demo.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                    .contentType(MediaType.APPLICATION_JSON)
                    .bodyValue("{\"model\":\"demo-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}")
                    .exchange().expectStatus().isOk()
                    .expectHeader().valueEquals("x-ratelimit-limit-requests", "20")
                    .expectBody().jsonPath("$.choices[0].message.content").exists();
            demo.chat(key, "demo-enterprise").expectStatus().isForbidden()
                    .expectBody().jsonPath("$.error.code").isEqualTo("real_name_verification_required");
        }
    }
}
