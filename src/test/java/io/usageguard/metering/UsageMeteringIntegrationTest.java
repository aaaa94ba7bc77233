package io.usageguard.metering;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.pipeline.GuardFilter;
import io.usageguard.pipeline.RequestObserver;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.MutableClock;
import io.usageguard.testsupport.Registries;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.http.MediaType;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Usage records end to end: real gateway instances on one real PostgreSQL schema, the stub backend
 * answering with known token counts, the admin usage endpoint, a restart in between.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UsageMeteringIntegrationTest {

    static final JsonMapper JSON = JsonMapper.builder().build();
    static final int PROMPT = 11;
    static final int COMPLETION = 7;

    static StubInferenceServer backend;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    static GatewayInstance.Builder gateway(String schema, MutableClock clock) {
        return GatewayInstance.builder(backend.uri())
                .properties(Registries.postgres(schema))
                .property("usage-guard.models.[second-model].backend", "default")
                .property("usage-guard.models.[second-model].min-verification", "INDIVIDUAL")
                .property("usage-guard.metering.flush-interval", "1h") // only the shutdown flush (and explicit ones)
                .clock(clock);
    }

    /**
     * True once the usage helper's work (token reconciliation into {@code ctx.usage()}) is on the
     * classpath: then token counts are asserted exactly; before, they are null and only requests are.
     */
    static boolean tokensMetered(GatewayInstance g) {
        return g.context().getBeansOfType(GuardFilter.class).values().stream()
                .anyMatch(b -> b.getClass().getPackageName().equals("io.usageguard.usage"))
                || g.context().getBeansOfType(RequestObserver.class).values().stream()
                .anyMatch(b -> b.getClass().getPackageName().equals("io.usageguard.usage"));
    }

    static void chat(GatewayInstance g, String key, String model, boolean stream) {
        String body = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
                + (stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "") + "}";
        var spec = g.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange().expectStatus().isOk();
        String answer = spec.expectBody(String.class).returnResult().getResponseBody();
        assertThat(answer).isNotEmpty();
    }

    /** Polls the usage endpoint until the account's requests (served and refused) on that day reach n. */
    static void awaitRequests(GatewayInstance g, String account, String day, long n) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        long seen;
        do {
            JsonNode total = usage(g, account, day, day).get("total");
            seen = total.get("requests").asLong() + total.get("rejected_requests").asLong();
            if (seen >= n) {
                return;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
        } while (System.nanoTime() < deadline);
        throw new AssertionError(account + " has " + seen + " requests on " + day + ", expected " + n);
    }

    static JsonNode usage(GatewayInstance g, String account, String from, String to) {
        String body = g.admin().get().uri("/admin/accounts/{id}/usage?from={f}&to={t}", account, from, to)
                .exchange().expectStatus().isOk().expectBody(String.class).returnResult().getResponseBody();
        return JSON.readTree(body);
    }

    /** "day model requests rejected prompt completion" per row, for exact comparison. */
    static List<String> rows(JsonNode report, boolean withTokens) {
        List<String> out = new ArrayList<>();
        for (JsonNode r : report.get("data")) {
            out.add(r.get("day").asString() + " " + r.get("model").asString() + " " + r.get("requests").asLong()
                    + " " + r.get("rejected_requests").asLong()
                    + (withTokens ? " " + r.get("prompt_tokens").asLong() + " " + r.get("completion_tokens").asLong() : ""));
        }
        return out;
    }

    @Test
    void usageEndpointReportsExactCountsPerDayAndModelAlsoAfterARestart() {
        backend.reset().promptTokens(PROMPT).completionTokens(COMPLETION);
        String schema = "ug_meter_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        MutableClock clock = new MutableClock(java.time.Instant.parse("2026-11-23T22:00:00Z"));
        List<String> expected;
        boolean tokens;
        try (GatewayInstance a = gateway(schema, clock).start()) {
            tokens = tokensMetered(a);
            a.account("acme", "L1", "INDIVIDUAL");
            a.account("other", "L1", "INDIVIDUAL");
            String k1 = a.issueKey("acme").key();
            String k2 = a.issueKey("acme").key();
            String otherKey = a.issueKey("other").key();
            // day 1: 3 JSON + 2 streamed on test-model over two keys, 1 on second-model, 2 refused
            for (int i = 0; i < 3; i++) {
                chat(a, k1, "test-model", false);
            }
            chat(a, k2, "test-model", true);
            chat(a, k2, "test-model", true);
            chat(a, k1, "second-model", false);
            a.chat(k1, "enterprise-model").expectStatus().isForbidden();
            a.chat(k2, "enterprise-model").expectStatus().isForbidden();
            chat(a, otherKey, "test-model", false); // another account: not in acme's report
            // a request is metered when the gateway is done with it, which can be just after the client has
            // its answer: wait for all of day 1 before moving the clock to day 2
            awaitRequests(a, "acme", "2026-11-23", 8);
            awaitRequests(a, "other", "2026-11-23", 1);
            // day 2 (UTC): 2 more on test-model
            clock.advance(Duration.ofHours(4));
            chat(a, k1, "test-model", false);
            chat(a, k2, "test-model", false);

            long p = tokens ? PROMPT : 0;
            long c = tokens ? COMPLETION : 0;
            expected = List.of(
                    "2026-11-23 enterprise-model 0 2" + (tokens ? " 0 0" : ""),
                    "2026-11-23 second-model 1 0" + (tokens ? " " + p + " " + c : ""),
                    "2026-11-23 test-model 5 0" + (tokens ? " " + 5 * p + " " + 5 * c : ""),
                    "2026-11-24 test-model 2 0" + (tokens ? " " + 2 * p + " " + 2 * c : ""));
            awaitRequests(a, "acme", "2026-11-24", 2);
            // answered before any flush: the in-memory counts are included
            JsonNode before = usage(a, "acme", "2026-11-23", "2026-11-24");
            assertThat(rows(before, tokens)).containsExactlyElementsOf(expected);
            assertThat(before.get("total").get("requests").asLong()).isEqualTo(8);
            assertThat(before.get("total").get("rejected_requests").asLong()).isEqualTo(2);
            // a range excluding day 2
            assertThat(rows(usage(a, "acme", "2026-11-23", "2026-11-23"), tokens)).containsExactlyElementsOf(
                    expected.subList(0, 3));
            // an explicit flush in between must not double count what is flushed again at shutdown
            assertThat(a.bean(UsageMeter.class).flush()).isTrue();
            chat(a, k1, "test-model", false);
            awaitRequests(a, "acme", "2026-11-24", 3);
            expected = new ArrayList<>(expected);
            expected.set(3, "2026-11-24 test-model 3 0" + (tokens ? " " + 3 * p + " " + 3 * c : ""));
            assertThat(rows(usage(a, "acme", "2026-11-23", "2026-11-24"), tokens)).containsExactlyElementsOf(expected);
        } // shutdown: the last counts are flushed

        try (GatewayInstance b = gateway(schema, new MutableClock(java.time.Instant.parse("2026-11-25T08:00:00Z")))
                .start()) {
            JsonNode after = usage(b, "acme", "2026-11-23", "2026-11-24");
            assertThat(rows(after, tokens)).containsExactlyElementsOf(expected);
            assertThat(rows(usage(b, "other", "2026-11-23", "2026-11-24"), tokens)).containsExactly(
                    "2026-11-23 test-model 1 0" + (tokens ? " " + PROMPT + " " + COMPLETION : ""));
            if (tokens) {
                assertThat(after.get("total").get("prompt_tokens").asLong()).isEqualTo(9L * PROMPT);
                assertThat(after.get("total").get("completion_tokens").asLong()).isEqualTo(9L * COMPLETION);
            } else {
                System.out.println("NOTE: token counts not asserted: ctx.usage() is not set before the usage"
                        + " branch is merged");
            }
        }
    }

    @Test
    void aFailedFlushKeepsItsCountsAndWhatCannotBeKeptIsCounted() throws Exception {
        backend.reset().promptTokens(PROMPT).completionTokens(COMPLETION);
        String schema = "ug_meter_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (GatewayInstance g = gateway(schema, new MutableClock())
                .property("usage-guard.metering.max-pending-records", "3").start()) {
            g.account("acme", "L1", "INDIVIDUAL");
            List<String> keys = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                keys.add(g.issueKey("acme").key());
            }
            UsageMeter meter = g.bean(UsageMeter.class);
            chat(g, keys.get(0), "test-model", false);
            chat(g, keys.get(1), "test-model", false);
            awaitUnflushed(meter, 2);
            try (Connection db = DriverManager.getConnection(Registries.PG_URL + "?currentSchema=" + schema,
                    Registries.PG_USER, "");
                 Statement st = db.createStatement()) {
                st.execute("alter table usage_records rename to usage_records_away");
                try {
                    assertThat(meter.flush()).isFalse(); // the database refuses: two rows kept
                    chat(g, keys.get(2), "test-model", false);
                    chat(g, keys.get(3), "test-model", false);
                    chat(g, keys.get(3), "test-model", false);
                    awaitUnflushed(meter, 5);
                    assertThat(meter.flush()).isFalse(); // one more row fits (3), the other key's do not
                } finally {
                    st.execute("alter table usage_records_away rename to usage_records");
                }
            }
            assertThat(meter.flush()).isTrue();
            JsonNode report = usage(g, "acme", "2026-11-23", "2026-11-23");
            long recorded = report.get("total").get("requests").asLong();
            String metrics = g.admin().get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                    .expectBody(String.class).returnResult().getResponseBody();
            double dropped = metric(metrics, "usage_guard_metering_dropped_records_total");
            // the rows of k0 and k1 survived the failures; of k2 (1 request) and k3 (2) only one row fit
            assertThat(recorded).isIn(3L, 4L);
            assertThat(recorded + (long) dropped).isEqualTo(5); // nothing lost without being counted
            assertThat(metric(metrics, "usage_guard_metering_flush_failures_total")).isEqualTo(2.0);
            // and the table holds exactly what the report says, once
            try (Connection db = DriverManager.getConnection(Registries.PG_URL + "?currentSchema=" + schema,
                    Registries.PG_USER, "");
                 Statement st = db.createStatement();
                 var rs = st.executeQuery("select sum(requests), count(*) from usage_records")) {
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(recorded);
                assertThat(rs.getLong(2)).isEqualTo(3);
            }
        }
    }

    static void awaitUnflushed(UsageMeter meter, long n) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (meter.unflushedRequests() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("only " + meter.unflushedRequests() + " requests metered, expected " + n);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
        }
    }

    static double metric(String exposition, String name) {
        for (String line : exposition.split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no metric " + name);
    }

    @Test
    @Order(1)
    void usageEndpointValidatesItsInput() {
        try (GatewayInstance g = GatewayInstance.builder(backend.uri()).start()) {
            g.account("acme", "L1", "INDIVIDUAL");
            for (String query : List.of("from=2026-13-01&to=2026-12-01", "from=yesterday&to=2026-12-01",
                    "from=2026-12-02&to=2026-12-01", "from=2025-01-01&to=2026-12-01", "from=2026-02-30&to=2026-03-01")) {
                g.admin().get().uri("/admin/accounts/acme/usage?" + query).exchange()
                        .expectStatus().isBadRequest()
                        .expectBody().jsonPath("$.error.code").isEqualTo("invalid_request");
            }
            g.admin().get().uri("/admin/accounts/nobody/usage?from=2026-11-01&to=2026-11-30").exchange()
                    .expectStatus().isNotFound();
            g.adminWithoutToken().get().uri("/admin/accounts/acme/usage?from=2026-11-01&to=2026-11-30").exchange()
                    .expectStatus().isUnauthorized();
            // 366 days inclusive are fine; without from/to: the last 30 days
            g.admin().get().uri("/admin/accounts/acme/usage?from=2025-12-01&to=2026-12-01").exchange()
                    .expectStatus().isOk().expectBody().jsonPath("$.data").isEmpty();
            g.admin().get().uri("/admin/accounts/acme/usage").exchange().expectStatus().isOk()
                    .expectBody().jsonPath("$.account_id").isEqualTo("acme");
            // never on the public port
            g.api().get().uri("/admin/accounts/acme/usage").header("Authorization", "Bearer "
                    + GatewayInstance.ADMIN_TOKEN).exchange().expectStatus().value(s -> assertThat(s).isNotEqualTo(200));
        }
    }
}
