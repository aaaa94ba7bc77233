package io.usageguard.observability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.usageguard.core.ErrorCode;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Contract §4 against the running gateway: {@code /actuator/prometheus} exposes every metric with
 * only the allowed labels, and a real Prometheus (Debian's {@code prometheus} package; {@code .ci/run}
 * installs it) scraping the gateway loads the alert rules, checked by {@code promtool}, and answers
 * every dashboard query with data.
 */
class PrometheusIntegrationTest {

    static final JsonMapper JSON = JsonMapper.builder().build();
    static final Path DASHBOARD = Path.of("helm/usage-guard/files/grafana/usage-guard-dashboard.json");
    static final Path ALERTS = Path.of("helm/usage-guard/files/prometheus/usage-guard-alerts.yml");
    static final Path ALERT_TESTS = Path.of("helm/usage-guard/files/prometheus/usage-guard-alerts.test.yml");

    static StubInferenceServer backend;
    static GatewayInstance gateway;
    static String acmeKey;
    static String tinyKey;
    static String sharedKey;

    @BeforeAll
    static void start() {
        backend = StubInferenceServer.start();
        gateway = GatewayInstance.builder(backend.uri())
                // a backend nobody listens on: 503 upstream_unavailable
                .property("usage-guard.backends.dead.uri", "http://127.0.0.1:" + freePort())
                .property("usage-guard.models.[dead-model].backend", "dead")
                .property("usage-guard.models.[glob-*].backend", "default")
                // shared state in the real Redis, so the state store's metrics exist
                .property("usage-guard.state.store", "redis")
                .property("usage-guard.state.redis.key-prefix", "ug-prom-" + UUID.randomUUID() + ":")
                // the 50ms default also bounds the connection handshake, too short on a loaded test machine
                .property("usage-guard.state.redis.command-timeout", "2s")
                // limits: a tiny tier that produces 429s, a generous one for everybody else
                .property("usage-guard.tiers.L1.rpm", "100000")
                .property("usage-guard.tiers.TINY.rpm", "2")
                // key sharing: flag a key used from more than two networks (clients behind 127.0.0.1)
                .property("usage-guard.client-ip.trusted-proxies", "127.0.0.1/32")
                .property("usage-guard.sharing.warn-networks", "2")
                .property("usage-guard.sharing.block-networks", "1000")
                .property("usage-guard.sharing.action", "observe")
                .start();
        gateway.account("acme", "L1", "INDIVIDUAL");
        gateway.account("tiny", "TINY", "INDIVIDUAL");
        acmeKey = gateway.issueKey("acme").key();
        tinyKey = gateway.issueKey("tiny").key();
        sharedKey = gateway.issueKey("acme").key();
        traffic();
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.close();
        }
        backend.close();
    }

    /** Every path: allowed (JSON and streamed), refused (401, 403, 404, 429), failed (503, backend 500). */
    static void traffic() {
        for (int i = 0; i < 3; i++) {
            gateway.chat(acmeKey, "test-model").expectStatus().isOk();
        }
        gateway.chat(acmeKey, "glob-one").expectStatus().isOk();
        gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + acmeKey)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}")
                .exchange().expectStatus().isOk().expectBody(String.class).returnResult();
        gateway.api().post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"test-model\"}").exchange().expectStatus().isUnauthorized();
        gateway.chat(acmeKey, "enterprise-model").expectStatus().isForbidden();
        gateway.chat(acmeKey, "no-such-model").expectStatus().isNotFound();
        gateway.chat(acmeKey, "dead-model").expectStatus().isEqualTo(503);
        backend.failWith(500);
        gateway.chat(acmeKey, "test-model").expectStatus().isEqualTo(500);
        backend.reset();
        for (int i = 0; i < 4; i++) { // 429 once the limits are in force
            gateway.chat(tinyKey, "test-model").expectStatus().value(s -> assertThat(s).isIn(200, 429));
        }
        for (String net : List.of("198.51.100.7", "203.0.113.7", "192.0.2.7", "100.64.0.7")) {
            gateway.api().post().uri("/v1/chat/completions").header("Authorization", "Bearer " + sharedKey)
                    .header("X-Forwarded-For", net).contentType(MediaType.APPLICATION_JSON)
                    .bodyValue("{\"model\":\"test-model\"}").exchange().expectStatus()
                    .value(s -> assertThat(s).isIn(200, 429, 403));
        }
    }

    // ---- /actuator/prometheus ---------------------------------------------------------------

    record Sample(String name, Map<String, String> labels, String value) {
    }

    static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})?\\s+(\\S+)(\\s+\\S+)?");
    static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

    static List<Sample> scrape() {
        String text = gateway.admin().get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        List<Sample> samples = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertThat(m.matches()).as("exposition line %s", line).isTrue();
            Map<String, String> labels = new LinkedHashMap<>();
            if (m.group(3) != null) {
                Matcher l = LABEL.matcher(m.group(3));
                int end = 0;
                while (l.find()) {
                    assertThat(l.start()).as("labels of %s", line).isEqualTo(end);
                    labels.put(l.group(1), l.group(2));
                    end = l.end();
                }
                assertThat(end).as("labels of %s", line).isEqualTo(m.group(3).length());
            }
            samples.add(new Sample(m.group(1), labels, m.group(4)));
        }
        return samples;
    }

    @Test
    void exposesEveryContractMetricWithOnlyTheAllowedLabels() {
        List<Sample> samples = scrape();
        Map<String, List<Sample>> byName = new HashMap<>();
        samples.forEach(s -> byName.computeIfAbsent(s.name(), n -> new ArrayList<>()).add(s));

        Set<String> models = Set.of("test-model", "enterprise-model", "dead-model", "glob-*", "other");
        Set<String> routes = Set.of("default", "dead", "none");
        Set<String> codes = new TreeSet<>(Set.of("ok"));
        for (ErrorCode c : ErrorCode.values()) {
            codes.add(c.code());
        }

        // usage_guard_requests_total{route,model,outcome,code}
        List<Sample> requests = byName.get("usage_guard_requests_total");
        assertThat(requests).as("usage_guard_requests_total").isNotEmpty();
        for (Sample s : requests) {
            assertThat(s.labels().keySet()).containsExactlyInAnyOrder("route", "model", "outcome", "code");
            assertThat(s.labels().get("route")).isIn(routes);
            assertThat(s.labels().get("model")).isIn(models);
            assertThat(s.labels().get("outcome")).isIn("allowed", "rejected", "shadow_rejected");
            assertThat(s.labels().get("code")).isIn(codes);
        }
        // the traffic shows up with the right labels
        assertThat(value(requests, Map.of("route", "default", "model", "test-model", "outcome", "allowed", "code", "ok")))
                .isGreaterThanOrEqualTo(4);
        assertThat(value(requests, Map.of("model", "glob-*", "outcome", "allowed"))).isEqualTo(1);
        assertThat(value(requests, Map.of("route", "none", "model", "other", "code", "missing_api_key"))).isEqualTo(1);
        assertThat(value(requests, Map.of("model", "other", "code", "model_not_found"))).isEqualTo(1);
        assertThat(value(requests, Map.of("model", "enterprise-model", "outcome", "rejected",
                "code", "real_name_verification_required"))).isEqualTo(1);
        assertThat(value(requests, Map.of("route", "dead", "model", "dead-model", "code", "upstream_unavailable")))
                .isEqualTo(1);
        assertThat(value(requests, Map.of("code", "rate_limit_exceeded"))).isGreaterThanOrEqualTo(1);

        // usage_guard_tokens_total{model,type}
        List<Sample> tokens = byName.get("usage_guard_tokens_total");
        assertThat(tokens).as("usage_guard_tokens_total").isNotEmpty();
        for (Sample s : tokens) {
            assertThat(s.labels().keySet()).containsExactlyInAnyOrder("model", "type");
            assertThat(s.labels().get("model")).isIn(models);
            assertThat(s.labels().get("type")).isIn("prompt", "completion");
        }
        // usage_guard_inflight_requests{model}: all back to zero
        List<Sample> inflight = byName.get("usage_guard_inflight_requests");
        assertThat(inflight).as("usage_guard_inflight_requests").isNotEmpty();
        for (Sample s : inflight) {
            assertThat(s.labels().keySet()).containsExactly("model");
            assertThat(s.labels().get("model")).isIn(models);
            assertThat(Double.parseDouble(s.value())).isZero();
        }
        // usage_guard_decision_seconds: a histogram with buckets
        List<Sample> buckets = byName.get("usage_guard_decision_seconds_bucket");
        assertThat(buckets).as("usage_guard_decision_seconds_bucket").hasSizeGreaterThan(5);
        buckets.forEach(s -> assertThat(s.labels().keySet()).containsExactly("le"));
        for (String part : List.of("usage_guard_decision_seconds_count", "usage_guard_decision_seconds_sum")) {
            assertThat(byName.get(part)).as(part).hasSize(1);
            assertThat(byName.get(part).get(0).labels()).isEmpty();
        }
        assertThat(Double.parseDouble(byName.get("usage_guard_decision_seconds_count").get(0).value()))
                .isGreaterThanOrEqualTo(10);

        // the metrics other parts register (key sharing, the limits' state store, resilience4j per backend)
        Map<String, Set<String>> allowed = Map.of(
                "usage_guard_key_sharing_flags_total", Set.of("action"),
                "usage_guard_state_store_errors_total", Set.of("store"),
                "usage_guard_state_store_fallback", Set.of("store"));
        for (String name : List.of("usage_guard_key_sharing_flags_total", "usage_guard_state_store_errors_total",
                "usage_guard_state_store_fallback", "resilience4j_circuitbreaker_state", "resilience4j_bulkhead_available_concurrent_calls")) {
            assertThat(byName.get(name)).as(name).isNotEmpty();
            if (allowed.containsKey(name)) {
                byName.get(name).forEach(s -> assertThat(s.labels().keySet()).isEqualTo(allowed.get(name)));
            }
        }

        // no other usage_guard_ metric carries a label that could hold a key or an account
        for (Sample s : samples) {
            if (s.name().startsWith("usage_guard_")) {
                assertThat(s.labels().keySet()).doesNotContain("key", "key_id", "account", "account_id", "api_key",
                        "user", "client_ip", "ip");
            }
        }
        // JVM and reactor-netty metrics are on, reactor-netty's uri label bounded (connection gauges say "http")
        assertThat(byName).containsKey("jvm_memory_used_bytes");
        assertThat(byName.keySet()).anyMatch(n -> n.startsWith("reactor_netty_http_server_"));
        samples.stream().filter(s -> s.name().startsWith("reactor_netty_http_server_") && s.labels().containsKey("uri"))
                .forEach(s -> assertThat(s.labels().get("uri")).matches("/v1/[a-z]+(/[a-z_]+)?|other|http"));
    }

    static double value(List<Sample> samples, Map<String, String> match) {
        return samples.stream().filter(s -> match.entrySet().stream()
                        .allMatch(e -> e.getValue().equals(s.labels().get(e.getKey()))))
                .mapToDouble(s -> Double.parseDouble(s.value())).sum();
    }

    // ---- a real Prometheus ------------------------------------------------------------------

    @Test
    void everyDashboardQueryAndAlertRuleIsValidAndAnsweredByARealPrometheus() throws Exception {
        String prometheusBinary = which("prometheus");
        String promtool = which("promtool");
        if (prometheusBinary == null || promtool == null) {
            fail("Debian's prometheus package is not installed (apt-get install -y prometheus; .ci/run does it)");
        }
        // 1. promtool: the alert rules are valid
        Process check = new ProcessBuilder(promtool, "check", "rules", ALERTS.toAbsolutePath().toString())
                .redirectErrorStream(true).start();
        String checkOutput = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(check.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(check.exitValue()).as(checkOutput).isZero();
        assertThat(checkOutput).contains("SUCCESS");
        // promtool's unit tests of the rules: each alert fires on its input, with its labels and text
        Process unit = new ProcessBuilder(promtool, "test", "rules", ALERT_TESTS.getFileName().toString())
                .directory(ALERT_TESTS.toAbsolutePath().getParent().toFile()).redirectErrorStream(true).start();
        String unitOutput = new String(unit.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(unit.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(unit.exitValue()).as(unitOutput).isZero();

        // 2. Prometheus scraping the management port every second, evaluating the rules
        Path dir = Files.createTempDirectory("ug-prometheus");
        int port = freePort();
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                  evaluation_interval: 1s
                rule_files:
                  - %s
                scrape_configs:
                  - job_name: usage-guard
                    metrics_path: /actuator/prometheus
                    static_configs:
                      - targets: ["127.0.0.1:%d"]
                """.formatted(ALERTS.toAbsolutePath(), gateway.managementPort()));
        Process prometheus = new ProcessBuilder(prometheusBinary, "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port,
                "--log.level=warn")
                .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
        try {
            Prometheus api = new Prometheus(port);
            // a scrape that saw the traffic, then more traffic and a second one, so rates are not zero
            await("Prometheus scraped the gateway", Duration.ofSeconds(90),
                    () -> api.nonEmpty("usage_guard_requests_total{code=\"ok\"}"));
            traffic();
            await("Prometheus saw the second round of traffic", Duration.ofSeconds(90),
                    () -> api.nonEmpty("sum(increase(usage_guard_requests_total{code=\"ok\"}[1m])) > 0"));

            // 3. every dashboard query parses and returns data
            JsonNode dashboard = JSON.readTree(Files.readString(DASHBOARD));
            List<String> failures = new ArrayList<>();
            int checked = 0;
            for (JsonNode panel : panels(dashboard)) {
                for (JsonNode target : panel.path("targets")) {
                    String expr = concrete(target.path("expr").asString(""));
                    if (expr.isEmpty()) {
                        continue;
                    }
                    JsonNode answer = api.query(expr);
                    if (!"success".equals(answer.path("status").asString())) {
                        failures.add(panel.path("title").asString() + ": " + expr + " -> " + answer);
                        continue;
                    }
                    checked++;
                    if (answer.path("data").path("result").isEmpty()) {
                        failures.add(panel.path("title").asString() + ": no data for " + expr);
                    }
                }
            }
            assertThat(failures).as("dashboard queries").isEmpty();
            assertThat(checked).isGreaterThanOrEqualTo(15);

            // 4. every alert rule's expression parses, and Prometheus loaded and evaluated each rule
            List<String> rules = new ArrayList<>();
            await("Prometheus evaluated every alert rule", Duration.ofSeconds(60), () -> {
                rules.clear();
                JsonNode groups = api.get("/api/v1/rules").path("data").path("groups");
                for (JsonNode g : groups) {
                    for (JsonNode r : g.path("rules")) {
                        if (!"ok".equals(r.path("health").asString())) {
                            return false;
                        }
                        rules.add(r.path("name").asString());
                    }
                }
                return !rules.isEmpty();
            });
            assertThat(rules).containsExactlyInAnyOrder("UsageGuardStateStoreFallback", "UsageGuardBackendCircuitOpen",
                    "UsageGuardRejectionSpike", "UsageGuardDecisionLatencyHigh", "UsageGuardUsageRecordsDropped");
            for (String expr : alertExpressions()) {
                assertThat(api.query(expr).path("status").asString()).as(expr).isEqualTo("success");
            }
            // the rules' inputs exist: the ratio and the latency quantile have values right now
            assertThat(api.nonEmpty("sum by (instance) (rate(usage_guard_requests_total[5m]))")).isTrue();
            assertThat(api.nonEmpty(
                    "histogram_quantile(0.99, sum by (instance, le) (rate(usage_guard_decision_seconds_bucket[5m])))"))
                    .isTrue();
        } finally {
            prometheus.destroy();
            if (!prometheus.waitFor(20, TimeUnit.SECONDS)) {
                prometheus.destroyForcibly();
            }
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    static List<JsonNode> panels(JsonNode dashboard) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode p : dashboard.path("panels")) {
            out.add(p);
            for (JsonNode inner : p.path("panels")) { // collapsed rows keep their panels inside
                out.add(inner);
            }
        }
        return out;
    }

    /** Grafana's variables replaced by what they stand for in this short-lived test. */
    static String concrete(String expr) {
        return expr.replace("$__rate_interval", "1m").replace("${__rate_interval}", "1m")
                .replace("$__interval", "15s").replace("${__interval}", "15s")
                .replace("$__range", "1h").replace("${__range}", "1h");
    }

    static List<String> alertExpressions() throws IOException {
        // the rules file is small and regular: "expr:" followed by a one-line or a "|" block expression
        List<String> exprs = new ArrayList<>();
        List<String> lines = Files.readAllLines(ALERTS);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            if (!line.startsWith("expr:")) {
                continue;
            }
            String rest = line.substring(5).trim();
            if (!rest.equals("|")) {
                exprs.add(rest);
                continue;
            }
            int indent = lines.get(i + 1).indexOf(lines.get(i + 1).trim());
            StringBuilder sb = new StringBuilder();
            for (int j = i + 1; j < lines.size() && (lines.get(j).isBlank()
                    || lines.get(j).indexOf(lines.get(j).trim()) >= indent); j++) {
                sb.append(lines.get(j).trim()).append('\n');
            }
            exprs.add(sb.toString().trim());
        }
        assertThat(exprs).hasSize(5);
        return exprs;
    }

    static final class Prometheus {
        private final int port;
        private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

        Prometheus(int port) {
            this.port = port;
        }

        JsonNode get(String pathAndQuery) {
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                        + pathAndQuery)).timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
                return JSON.readTree(r.body());
            } catch (IOException e) {
                return JSON.createObjectNode().put("status", "unreachable").put("error", e.toString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        JsonNode query(String expr) {
            return get("/api/v1/query?query=" + URLENCODED(expr));
        }

        boolean nonEmpty(String expr) {
            JsonNode r = query(expr);
            return "success".equals(r.path("status").asString()) && !r.path("data").path("result").isEmpty();
        }

        private static String URLENCODED(String s) {
            return URLEncoder.encode(s, StandardCharsets.UTF_8);
        }
    }

    static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        io.usageguard.testsupport.Http.await(timeout, what, condition);
    }

    static String which(String binary) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(dir, binary);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
