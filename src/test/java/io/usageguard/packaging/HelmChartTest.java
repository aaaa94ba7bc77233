package io.usageguard.packaging;

import static io.usageguard.packaging.HelmChart.at;
import static io.usageguard.packaging.HelmChart.list;
import static io.usageguard.packaging.HelmChart.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import com.marcnuri.helm.LintResult;
import io.usageguard.packaging.HelmChart.Rendered;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code helm lint} and {@code helm template} of the chart with its default values and with the
 * multi-replica production values, run through the real Helm library; the manifests are parsed and
 * checked field by field.
 */
class HelmChartTest {

    static Rendered defaults;
    static Rendered production;
    static Map<String, Object> defaultValues;
    static Map<String, Object> productionValues;

    @BeforeAll
    static void render() {
        defaults = HelmChart.template(null);
        production = HelmChart.template(HelmChart.PRODUCTION_VALUES);
        defaultValues = HelmChart.yamlMap(HelmChart.DIR.resolve("values.yaml"));
        productionValues = HelmChart.merge(defaultValues, HelmChart.yamlMap(HelmChart.PRODUCTION_VALUES));
    }

    @Test
    void lintPassesStrictWithDefaultAndProductionValues() {
        for (Path values : new Path[] {null, HelmChart.PRODUCTION_VALUES}) {
            LintResult result = HelmChart.lint(values);
            assertThat(result.isFailed()).as("helm lint --strict %s: %s", values, result.getMessages()).isFalse();
            assertThat(result.getMessages()).as("only informational messages")
                    .allSatisfy(m -> assertThat(m).startsWith("[INFO]"));
        }
    }

    @Test
    void portsOfContainerAndServices() {
        for (Rendered r : List.of(defaults, production)) {
            List<Object> ports = list(r.container().get("ports"));
            assertThat(ports).extracting(p -> map(p).get("name"), p -> map(p).get("containerPort"))
                    .containsExactly(org.assertj.core.groups.Tuple.tuple("http", 8080),
                            org.assertj.core.groups.Tuple.tuple("management", 8081));
            Map<String, String> args = r.args();
            assertThat(args).containsEntry("server.port", "8080").containsEntry("management.server.port", "8081");

            Map<String, Object> api = r.named("Service", HelmChart.RELEASE);
            assertThat(at(api, "spec.type")).isEqualTo("ClusterIP");
            assertThat(list(at(api, "spec.ports"))).singleElement().satisfies(p -> {
                assertThat(map(p)).containsEntry("port", 8080).containsEntry("targetPort", "http");
            });
            Map<String, Object> management = r.named("Service", HelmChart.RELEASE + "-management");
            assertThat(at(management, "spec.type")).isEqualTo("ClusterIP");
            assertThat(list(at(management, "spec.ports"))).singleElement().satisfies(p -> {
                assertThat(map(p)).containsEntry("port", 8081).containsEntry("targetPort", "management");
            });
            // both Services select exactly the Deployment's pods
            Object podLabels = at(r.deployment(), "spec.selector.matchLabels");
            assertThat(at(api, "spec.selector")).isEqualTo(podLabels);
            assertThat(at(management, "spec.selector")).isEqualTo(podLabels);
        }
    }

    @Test
    void probesUseTheActuatorHealthGroupsOnTheManagementPort() {
        for (Rendered r : List.of(defaults, production)) {
            Map<String, Object> c = r.container();
            assertThat(at(c, "livenessProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
            assertThat(at(c, "readinessProbe.httpGet.path")).isEqualTo("/actuator/health/readiness");
            assertThat(at(c, "startupProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
            for (String probe : List.of("livenessProbe", "readinessProbe", "startupProbe")) {
                // the named port is the management port (8081), never the public API
                assertThat(at(c, probe + ".httpGet.port")).isEqualTo("management");
            }
            assertThat((Integer) at(c, "startupProbe.failureThreshold") * (Integer) at(c, "startupProbe.periodSeconds"))
                    .as("time allowed for the first start (Flyway migrations)").isGreaterThanOrEqualTo(120);
        }
    }

    @Test
    void securityContextIsNonRootReadOnlyAndWithoutPrivileges() {
        for (Rendered r : List.of(defaults, production)) {
            Map<String, Object> pod = map(r.podSpec().get("securityContext"));
            assertThat(pod).containsEntry("runAsNonRoot", true).containsEntry("runAsUser", 10001);
            assertThat(at(pod, "seccompProfile.type")).isEqualTo("RuntimeDefault");
            Map<String, Object> container = map(r.container().get("securityContext"));
            assertThat(container).containsEntry("runAsNonRoot", true).containsEntry("runAsUser", 10001)
                    .containsEntry("readOnlyRootFilesystem", true).containsEntry("allowPrivilegeEscalation", false);
            assertThat(at(container, "capabilities.drop")).isEqualTo(List.of("ALL"));
            assertThat(at(container, "seccompProfile.type")).isEqualTo("RuntimeDefault");
            assertThat(r.podSpec()).containsEntry("automountServiceAccountToken", false);

            // read-only root: /tmp is a writable emptyDir
            assertThat(mountPaths(r)).containsEntry("/tmp", "tmp");
            assertThat(volume(r, "tmp")).containsKey("emptyDir");
        }
        // the embedded H2 file registry needs a writable ./data (image WORKDIR /app) ...
        assertThat(mountPaths(defaults)).containsEntry("/app/data", "h2-data");
        // ... PostgreSQL does not
        assertThat(mountPaths(production)).doesNotContainKey("/app/data");
    }

    @Test
    void resourcesAndJvmMemoryFlags() {
        assertThat(at(defaults.container(), "resources.requests.cpu")).isEqualTo("500m");
        assertThat(at(defaults.container(), "resources.requests.memory")).isEqualTo("1Gi");
        assertThat(at(defaults.container(), "resources.limits.memory")).isEqualTo("1Gi");
        assertThat(at(production.container(), "resources.requests.cpu")).isEqualTo("1");
        assertThat(at(production.container(), "resources.limits.memory")).isEqualTo("2Gi");
        for (Rendered r : List.of(defaults, production)) {
            assertThat(at(r.env().get("JAVA_TOOL_OPTIONS"), "value").toString())
                    .contains("-XX:MaxRAMPercentage=75").contains("-XX:+ExitOnOutOfMemoryError");
        }
    }

    @Test
    void gracefulTerminationMatchesTheGatewaysGracePeriod() {
        for (Rendered r : List.of(defaults, production)) {
            Map<String, Object> values = r == defaults ? defaultValues : productionValues;
            int grace = (Integer) at(values, "shutdown.gracePeriodSeconds");
            int preStop = (Integer) at(values, "shutdown.preStopSleepSeconds");
            assertThat(r.args()).containsEntry("usage-guard.shutdown.grace-period", grace + "s")
                    .containsEntry("spring.lifecycle.timeout-per-shutdown-phase", grace + "s");
            assertThat(r.podSpec().get("terminationGracePeriodSeconds")).isEqualTo(preStop + grace + 10);
            assertThat(at(r.container(), "lifecycle.preStop.exec.command"))
                    .isEqualTo(List.of("sleep", String.valueOf(preStop)));
            // a rollout never drops below the desired capacity
            assertThat(at(r.deployment(), "spec.strategy.type")).isEqualTo("RollingUpdate");
            assertThat(at(r.deployment(), "spec.strategy.rollingUpdate.maxUnavailable")).isEqualTo(0);
        }
        assertThat(defaults.podSpec().get("terminationGracePeriodSeconds")).isEqualTo(45);
        assertThat(production.podSpec().get("terminationGracePeriodSeconds")).isEqualTo(80);
    }

    @Test
    void configIsMountedAsDirectoriesAndReadThroughAdditionalLocation() {
        for (Rendered r : List.of(defaults, production)) {
            List<Object> mounts = list(r.container().get("volumeMounts"));
            assertThat(mounts).as("subPath mounts are never updated by the kubelet")
                    .noneSatisfy(m -> assertThat(map(m)).containsKey("subPath"));
            assertThat(mountPaths(r)).containsEntry("/config/app", "config").containsEntry("/config/limits", "limits");
            assertThat(at(volume(r, "config"), "configMap.name")).isEqualTo(HelmChart.RELEASE + "-config");
            assertThat(at(volume(r, "limits"), "configMap.name")).isEqualTo(HelmChart.RELEASE + "-limits");
            assertThat(r.args()).containsEntry("spring.config.additional-location",
                    "file:/config/app/application.yml,file:/config/limits/limits.yml");
        }
    }

    @Test
    void onlyTheStaticConfigRestartsPodsTheLiveLimitsDoNot() {
        Map<String, Object> annotations = map(at(defaults.deployment(), "spec.template.metadata.annotations"));
        assertThat(annotations).containsKey("checksum/config").doesNotContainKey("checksum/limits");

        // a limit change leaves the pod template untouched: no rollout, the gateway re-reads the file
        Rendered limitChanged = HelmChart.template(null, Map.of("liveConfig.usage-guard.tiers.L1.rpm", 999));
        assertThat(limitChanged.limitsYml()).contains("rpm: 999");
        assertThat(at(limitChanged.deployment(), "spec.template")).isEqualTo(at(defaults.deployment(), "spec.template"));

        // a static change (here the body cap) changes the checksum, so the pods roll
        Rendered configChanged = HelmChart.template(null, Map.of("config.usage-guard.request.max-body-size", "16MB"));
        assertThat(at(configChanged.deployment(), "spec.template.metadata.annotations.checksum/config"))
                .isNotEqualTo(annotations.get("checksum/config"));
    }

    @Test
    void valuesMergeLikeHelmIncludingNullRemovingADefaultModel() {
        Map<String, Object> defaultModels = map(at(HelmChart.yamlMap(defaults.applicationYml()), "usage-guard.models"));
        assertThat(defaultModels).containsOnlyKeys("[*]");
        Map<String, Object> productionModels = map(at(HelmChart.yamlMap(production.applicationYml()), "usage-guard.models"));
        assertThat(productionModels).containsOnlyKeys("[deepseek-*]", "[deepseek-r1*]", "[enterprise-*]");
        assertThat(at(productionModels, "[deepseek-r1*].backend")).isEqualTo("reasoner");
        // no credential in the rendered configuration
        assertThat(production.applicationYml()).doesNotContain("usage-guard-credentials", "redis://:");
    }

    @Test
    void networkPolicyKeepsTheManagementPortInternal() {
        for (Rendered r : List.of(defaults, production)) {
            Map<String, Object> policy = r.one("NetworkPolicy");
            assertThat(at(policy, "spec.podSelector.matchLabels")).isEqualTo(at(r.deployment(), "spec.selector.matchLabels"));
            assertThat(list(at(policy, "spec.policyTypes"))).contains("Ingress");
            List<Object> rules = list(at(policy, "spec.ingress"));
            // no rule without ports (that would open every port)
            assertThat(rules).allSatisfy(rule -> assertThat(map(rule).get("ports")).isNotNull());
            List<Map<String, Object>> managementRules = rules.stream().map(HelmChart::map)
                    .filter(rule -> list(rule.get("ports")).stream().anyMatch(p -> Integer.valueOf(8081).equals(map(p).get("port"))))
                    .toList();
            assertThat(managementRules).singleElement().satisfies(rule -> {
                assertThat(list(rule.get("ports"))).hasSize(1);
                List<Object> from = list(rule.get("from"));
                assertThat(from).as("management port open only to selected peers").isNotEmpty()
                        .allSatisfy(peer -> assertThat(map(peer)).doesNotContainKey("ipBlock"));
                // Prometheus and the admin clients
                assertThat(from).anySatisfy(peer -> assertThat(at(map(peer), "podSelector.matchLabels"))
                        .isEqualTo(Map.of("app.kubernetes.io/name", "prometheus")));
                assertThat(from).anySatisfy(peer -> assertThat(at(map(peer), "podSelector.matchLabels"))
                        .isEqualTo(Map.of("usage-guard.io/admin-client", "true")));
            });
        }
        // production: the API only from the ingress controller's namespace
        List<Object> rules = list(at(production.one("NetworkPolicy"), "spec.ingress"));
        assertThat(rules).anySatisfy(rule -> {
            assertThat(list(map(rule).get("ports"))).extracting(p -> map(p).get("port")).containsExactly(8080);
            assertThat(list(map(rule).get("from"))).isNotEmpty();
        });
    }

    @Test
    void productionHasAutoscalingDisruptionBudgetAndMonitoring() {
        assertThat(at(production.deployment(), "spec.replicas")).as("the HPA owns the replica count").isNull();
        Map<String, Object> hpa = production.one("HorizontalPodAutoscaler");
        assertThat(hpa.get("apiVersion")).isEqualTo("autoscaling/v2");
        assertThat(at(hpa, "spec.scaleTargetRef.kind")).isEqualTo("Deployment");
        assertThat(at(hpa, "spec.scaleTargetRef.name")).isEqualTo(at(production.deployment(), "metadata.name"));
        assertThat(at(hpa, "spec.minReplicas")).isEqualTo(3);
        assertThat(at(hpa, "spec.maxReplicas")).isEqualTo(12);
        assertThat(list(at(hpa, "spec.metrics"))).singleElement()
                .satisfies(m -> assertThat(at(map(m), "resource.target.averageUtilization")).isEqualTo(65));

        Map<String, Object> pdb = production.one("PodDisruptionBudget");
        assertThat(pdb.get("apiVersion")).isEqualTo("policy/v1");
        assertThat(at(pdb, "spec.minAvailable")).isEqualTo(2);
        assertThat(at(pdb, "spec.selector.matchLabels")).isEqualTo(at(production.deployment(), "spec.selector.matchLabels"));

        Map<String, Object> monitor = production.one("ServiceMonitor");
        assertThat(monitor.get("apiVersion")).isEqualTo("monitoring.coreos.com/v1");
        assertThat(list(at(monitor, "spec.endpoints"))).singleElement().satisfies(e -> {
            assertThat(map(e)).containsEntry("port", "management").containsEntry("path", "/actuator/prometheus");
        });
        // it selects the management Service only
        Map<String, Object> managementService = production.named("Service", HelmChart.RELEASE + "-management");
        assertThat(map(at(managementService, "metadata.labels"))).containsAllEntriesOf(map(at(monitor, "spec.selector.matchLabels")));
        assertThat(map(at(production.named("Service", HelmChart.RELEASE), "metadata.labels")))
                .as("the API Service is not scraped").containsEntry("app.kubernetes.io/component", "api");
        assertThat(map(at(monitor, "spec.selector.matchLabels")))
                .containsEntry("app.kubernetes.io/component", "management");
        assertThat(production.one("PrometheusRule").get("apiVersion")).isEqualTo("monitoring.coreos.com/v1");

        // defaults: one replica, no HPA, no CRD-based objects, a PDB that still allows evicting it
        assertThat(at(defaults.deployment(), "spec.replicas")).isEqualTo(1);
        assertThat(defaults.has("HorizontalPodAutoscaler")).isFalse();
        assertThat(defaults.has("ServiceMonitor")).isFalse();
        assertThat(defaults.has("PrometheusRule")).isFalse();
        assertThat(at(defaults.one("PodDisruptionBudget"), "spec.maxUnavailable")).isEqualTo(1);
    }

    @Test
    void alertRulesAndDashboardAreTheChartsFilesVerbatim() throws Exception {
        Path alerts = HelmChart.DIR.resolve("files/prometheus/usage-guard-alerts.yml");
        Path dashboard = HelmChart.DIR.resolve("files/grafana/usage-guard-dashboard.json");

        Map<String, Object> rule = production.one("PrometheusRule");
        assertThat(rule.get("spec")).isEqualTo(HelmChart.yamlMap(alerts));
        assertThat(list(at(rule, "spec.groups"))).isNotEmpty()
                .allSatisfy(g -> assertThat(list(map(g).get("rules"))).isNotEmpty());

        for (Rendered r : List.of(defaults, production)) {
            Map<String, Object> configMap = r.named("ConfigMap", HelmChart.RELEASE + "-dashboard");
            assertThat(map(at(configMap, "metadata.labels"))).containsEntry("grafana_dashboard", "1");
            String json = (String) map(configMap.get("data")).get("usage-guard-dashboard.json");
            assertThat(json.strip()).isEqualTo(Files.readString(dashboard).strip());
            assertThat(JsonMapper.builder().build().readTree(json).get("panels").isArray()).isTrue();
        }
        assertThat(at(production.named("ConfigMap", HelmChart.RELEASE + "-dashboard"), "metadata.namespace"))
                .isEqualTo("monitoring");
    }

    @Test
    void productionReadsCredentialsFromTheExistingSecret() {
        assertThat(production.has("Secret")).as("no Secret created when existingSecret is set").isFalse();
        Map<String, Map<String, Object>> env = production.env();
        assertThat(secretRef(env, "USAGE_GUARD_ADMIN_TOKEN")).containsEntry("name", "usage-guard-credentials")
                .containsEntry("key", "admin-token").doesNotContainKey("optional");
        assertThat(secretRef(env, "USAGE_GUARD_REGISTRY_PASSWORD")).containsEntry("name", "usage-guard-credentials")
                .containsEntry("key", "registry-password");
        assertThat(secretRef(env, "USAGE_GUARD_STATE_REDIS_URL")).containsEntry("name", "usage-guard-credentials")
                .containsEntry("key", "redis-url");
        // no credential is written anywhere in plain text
        assertThat(env.values()).allSatisfy(e -> assertThat(e.keySet()).isSubsetOf("name", "value", "valueFrom"));
        assertThat(env.keySet()).containsExactlyInAnyOrder("JAVA_TOOL_OPTIONS", "USAGE_GUARD_ADMIN_TOKEN",
                "USAGE_GUARD_REGISTRY_PASSWORD", "USAGE_GUARD_STATE_REDIS_URL");
        assertThat(production.applicationYml()).doesNotContainIgnoringCase("password");
    }

    @Test
    void chartManagedSecretCarriesTheCredentialsAndRollsThePods() {
        Rendered r = HelmChart.template(null, Map.of(
                "secrets.adminToken", "admin-token-123",
                "secrets.registryPassword", "pg-secret",
                "secrets.redisUrl", "redis://:redis-secret@redis:6379/0"));
        Map<String, Object> secret = r.one("Secret");
        Map<String, Object> data = map(secret.get("data"));
        assertThat(decode(data.get("admin-token"))).isEqualTo("admin-token-123");
        assertThat(decode(data.get("registry-password"))).isEqualTo("pg-secret");
        assertThat(decode(data.get("redis-url"))).isEqualTo("redis://:redis-secret@redis:6379/0");
        String secretName = (String) at(secret, "metadata.name");
        Map<String, Map<String, Object>> env = r.env();
        assertThat(secretRef(env, "USAGE_GUARD_ADMIN_TOKEN")).containsEntry("name", secretName).containsEntry("key", "admin-token");
        assertThat(secretRef(env, "USAGE_GUARD_REGISTRY_PASSWORD")).containsEntry("name", secretName).containsEntry("key", "registry-password");
        assertThat(secretRef(env, "USAGE_GUARD_STATE_REDIS_URL")).containsEntry("name", secretName).containsEntry("key", "redis-url");
        assertThat(map(at(r.deployment(), "spec.template.metadata.annotations"))).containsKey("checksum/secret");

        // nothing given: no Secret, no reference to one (the admin API then refuses every call)
        assertThat(defaults.has("Secret")).isFalse();
        assertThat(defaults.env().keySet()).containsExactly("JAVA_TOOL_OPTIONS");
    }

    @Test
    void severalReplicasWithoutSharedRegistryAndRedisFailToRender() {
        assertThatThrownBy(() -> HelmChart.template(null, Map.of("replicaCount", 3)))
                .hasMessageContaining("needs a shared registry").hasMessageContaining("config.usage-guard.registry.url");
        assertThatThrownBy(() -> HelmChart.template(null, Map.of("autoscaling.enabled", true)))
                .hasMessageContaining("needs a shared registry");
        assertThatThrownBy(() -> HelmChart.template(null, Map.of("replicaCount", 3,
                "config.usage-guard.registry.url", "jdbc:h2:mem:x")))
                .hasMessageContaining("needs a shared registry");
        assertThatThrownBy(() -> HelmChart.template(null, Map.of("replicaCount", 3,
                "config.usage-guard.registry.url", "jdbc:postgresql://pg:5432/ug")))
                .hasMessageContaining("needs shared state").hasMessageContaining("state.store=redis");
        assertThatThrownBy(() -> HelmChart.template(null, Map.of("replicaCount", 3,
                "config.usage-guard.registry.url", "jdbc:postgresql://pg:5432/ug",
                "config.usage-guard.state.store", "redis")))
                .hasMessageContaining("needs a Redis URL");
        // all three given: renders
        Rendered ok = HelmChart.template(null, Map.of("replicaCount", 3,
                "config.usage-guard.registry.url", "jdbc:postgresql://pg:5432/ug",
                "config.usage-guard.state.store", "redis",
                "secrets.redisUrl", "redis://redis:6379"));
        assertThat(at(ok.deployment(), "spec.replicas")).isEqualTo(3);
    }

    private static Map<String, Object> secretRef(Map<String, Map<String, Object>> env, String name) {
        assertThat(env).containsKey(name);
        return map(at(env.get(name), "valueFrom.secretKeyRef"));
    }

    private static String decode(Object base64) {
        return new String(Base64.getDecoder().decode((String) base64), StandardCharsets.UTF_8);
    }

    private static Map<String, String> mountPaths(Rendered r) {
        Map<String, String> paths = new java.util.LinkedHashMap<>();
        for (Object m : list(r.container().get("volumeMounts"))) {
            paths.put((String) map(m).get("mountPath"), (String) map(m).get("name"));
        }
        return paths;
    }

    private static Map<String, Object> volume(Rendered r, String name) {
        return list(r.podSpec().get("volumes")).stream().map(HelmChart::map)
                .filter(v -> name.equals(v.get("name"))).findFirst().orElseThrow();
    }
}
