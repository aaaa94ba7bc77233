package io.usageguard.privacy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.http.MediaType;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * Contract §5: a canary key and a canary prompt, sent through allowed, refused, streamed and failed
 * paths with debug logging on, appear in no log line and in no registry table.
 */
@ExtendWith(OutputCaptureExtension.class)
class CanaryLogTest {

    static final String CANARY_PROMPT = "CANARY-PROMPT-7f3a9c-do-not-log";

    @Test
    void canariesAppearInNoLogLineAndNoTable(CapturedOutput output) {
        try (StubInferenceServer backend = StubInferenceServer.start();
             GatewayInstance gateway = GatewayInstance.builder(backend.uri())
                     .property("logging.level.io.usageguard", "DEBUG")
                     .property("logging.level.org.springframework.cloud.gateway", "DEBUG")
                     .property("logging.level.org.springframework.web", "DEBUG")
                     // the test's own WebTestClient shares this JVM and would log what it sends at DEBUG
                     .property("logging.level.org.springframework.web.HttpLogging", "INFO")
                     .property("logging.level.reactor.netty.http", "DEBUG")
                     .start()) {
            gateway.account("canary", "L1", "INDIVIDUAL");
            String key = gateway.issueKey("canary").key();
            String wrongKey = "sk-CANARYWRONGKEY" + "0".repeat(33);
            String chat = "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"" + CANARY_PROMPT + "\"}]}";
            String stream = chat.replace("{\"model\"", "{\"stream\":true,\"model\"");

            send(gateway, key, chat).expectStatus().isOk();                                  // allowed
            send(gateway, key, stream).expectStatus().isOk();                                // streamed
            send(gateway, wrongKey, chat).expectStatus().isUnauthorized();                   // refused: bad key
            send(gateway, key, chat.replace("test-model", "enterprise-model")).expectStatus().isForbidden();
            send(gateway, key, chat.replace("test-model", "no-such-model")).expectStatus().isNotFound();
            send(gateway, key, "{\"bad json " + CANARY_PROMPT).expectStatus().isBadRequest();
            backend.failWith(500);
            send(gateway, key, chat).expectStatus().is5xxServerError();                     // backend error
            backend.reset();
            gateway.api().post().uri("/v1/chat/completions").header("x-api-key", key)
                    .header("Authorization", "Basic " + key).contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(chat).exchange().expectStatus().isUnauthorized();            // odd auth scheme

            // the registry: every table, every row, every column
            JdbcClient jdbc = JdbcClient.create(gateway.bean(javax.sql.DataSource.class));
            List<String> tables = jdbc.sql("select table_name from information_schema.tables where table_schema = 'public'")
                    .query(String.class).list();
            assertThat(tables).contains("api_keys", "accounts", "enforcement_events");
            for (String table : tables) {
                for (Map<String, Object> row : jdbc.sql("select * from " + table).query().listOfRows()) {
                    assertThat(row.toString()).doesNotContain(key).doesNotContain(key.substring(3, 20))
                            .doesNotContain(CANARY_PROMPT).doesNotContain("CANARYWRONGKEY");
                }
            }
        }
        String logs = output.getAll();
        assertThat(logs).contains("Started"); // the capture did see the application's log
        assertThat(logs).doesNotContain(CANARY_PROMPT).doesNotContain("CANARYWRONGKEY");
        for (String line : logs.split("\n")) {
            assertThat(line).doesNotContainPattern("sk-[0-9A-Za-z]{46}");
        }
    }

    private static org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec send(
            GatewayInstance gateway, String key, String body) {
        return gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }
}
