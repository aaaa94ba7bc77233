package io.usageguard.observability;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.metering.UsageMeter;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.http.MediaType;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Contract §5 for what this package and metering write: a canary prompt, a canary completion (the
 * stub answers with it) and a canary key, sent through allowed, streamed, refused and failed paths
 * with DEBUG logging on, appear in no log line (the access log included), no metric, and no
 * registry table (usage records included, flushed).
 */
@ExtendWith(OutputCaptureExtension.class)
class PrivacyCanaryIntegrationTest {

    static final String CANARY_PROMPT = "CANARYPROMPT-b41d7e";
    static final String CANARY_COMPLETION = "CANARYCOMPLETION-9c02aa";

    @Test
    void canariesAppearInNoLogNoMetricAndNoTable(CapturedOutput output) {
        try (StubInferenceServer backend = StubInferenceServer.start();
             GatewayInstance gateway = GatewayInstance.builder(backend.uri())
                     .property("usage-guard.backends.dead.uri", "http://127.0.0.1:" + freePort())
                     .property("usage-guard.models.[dead-model].backend", "dead")
                     .property("usage-guard.client-ip.trusted-proxies", "127.0.0.1/32")
                     .property("logging.level.io.usageguard", "DEBUG")
                     .property("logging.level.usage-guard", "DEBUG")
                     .property("logging.level.org.springframework.cloud.gateway", "DEBUG")
                     // the test's own WebTestClient shares this JVM and would log what it sends at DEBUG
                     .property("logging.level.org.springframework.web.HttpLogging", "INFO")
                     .start()) {
            backend.content(CANARY_COMPLETION);
            gateway.account("canary", "L1", "INDIVIDUAL");
            String key = gateway.issueKey("canary").key();
            String keyBody = key.substring(3); // whatever follows "sk-" is secret too
            String unknownKey = "CANARYKEY-unknown-0123456789abcdef";
            String chat = "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"" + CANARY_PROMPT
                    + "\"}]}";
            String stream = chat.replace("{\"model\"", "{\"stream\":true,\"stream_options\":{\"include_usage\":true},\"model\"");

            String answer = send(gateway, key, chat).expectStatus().isOk()                      // allowed
                    .expectBody(String.class).returnResult().getResponseBody();
            assertThat(answer).contains(CANARY_COMPLETION); // the canary completion really went through
            String streamed = send(gateway, key, stream).expectStatus().isOk()                  // streamed
                    .expectBody(String.class).returnResult().getResponseBody();
            assertThat(streamed).contains(CANARY_COMPLETION);
            send(gateway, key, chat.replace("test-model", "enterprise-model")).expectStatus().isForbidden(); // refused
            send(gateway, unknownKey, chat).expectStatus().isUnauthorized();                    // refused: unknown key
            send(gateway, key, "{\"model\":\"test-model\",\"messages\":\"" + CANARY_PROMPT)     // refused: bad JSON
                    .expectStatus().isBadRequest();
            send(gateway, key, chat.replace("test-model", "dead-model")).expectStatus().isEqualTo(503); // errored
            backend.failWith(500);
            send(gateway, key, chat).expectStatus().isEqualTo(500);                             // backend failed
            backend.failWith(0);
            gateway.api().post().uri("/v1/chat/completions").header("x-api-key", key)           // other header
                    .header("X-Forwarded-For", "203.0.113.77").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(stream).exchange().expectStatus().isOk().expectBody(String.class).returnResult();

            // metrics
            String metrics = gateway.admin().get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                    .expectBody(String.class).returnResult().getResponseBody();
            assertThat(metrics).contains("usage_guard_requests_total");
            assertNoCanary("metrics", metrics, key, keyBody, unknownKey);
            assertThat(metrics).doesNotContain("\"canary\"").doesNotContain("account=").doesNotContain("key_id");

            // every registry table, usage records flushed
            assertThat(gateway.bean(UsageMeter.class).flush()).isTrue();
            JdbcClient jdbc = JdbcClient.create(gateway.bean(javax.sql.DataSource.class));
            List<String> tables = jdbc.sql("select table_name from information_schema.tables"
                    + " where table_schema = 'public'").query(String.class).list();
            assertThat(tables).contains("usage_records", "api_keys", "accounts", "enforcement_events");
            StringBuilder dump = new StringBuilder();
            for (String table : tables) {
                for (Map<String, Object> row : jdbc.sql("select * from " + table).query().listOfRows()) {
                    dump.append(table).append(' ').append(row).append('\n');
                }
            }
            assertThat(dump).contains("usage_records {account_id=canary"); // the usage really was written
            assertNoCanary("registry tables", dump.toString(), key, keyBody, unknownKey);
            assertNoCanary("logs", output.getAll(), key, keyBody, "CANARYKEY");
        }
        String logs = output.getAll(); // shutdown included
        // the capture saw the access log: one line per request, with key id and prefix only
        assertThat(logs).contains("usage-guard.access").contains("\"account_id\":\"canary\"")
                .contains("\"key_prefix\":\"sk-").contains("\"client_network\":\"203.0.113.0/24\"")
                .doesNotContain("203.0.113.77");
        assertNoCanary("logs", logs, null, null, "CANARYKEY");
        for (String line : logs.split("\n")) {
            assertThat(line).doesNotContainPattern("sk-[0-9A-Za-z]{46}");
        }
    }

    private static void assertNoCanary(String where, String text, String key, String keyBody, String unknownKey) {
        assertThat(text).as(where).doesNotContain(CANARY_PROMPT).doesNotContain(CANARY_COMPLETION)
                .doesNotContain(unknownKey);
        if (key != null) {
            assertThat(text).as(where).doesNotContain(key).doesNotContain(keyBody);
        }
    }

    private static WebTestClient.ResponseSpec send(GatewayInstance gateway, String key, String body) {
        return gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
