package io.usageguard.packaging;

import static io.usageguard.packaging.HelmChart.at;
import static io.usageguard.packaging.HelmChart.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import io.usageguard.admin.AdminProperties;
import io.usageguard.clientip.ClientIpProperties;
import io.usageguard.demo.StubInferenceServer;
import io.usageguard.packaging.HelmChart.Rendered;
import io.usageguard.ratelimit.LimitSet;
import io.usageguard.registry.RegistryProperties;
import io.usageguard.routing.RoutingProperties;
import io.usageguard.state.StateProperties;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.Registries;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.convert.DurationStyle;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.MutablePropertySources;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.core.io.ClassPathResource;
import org.springframework.core.io.FileSystemResource;
import org.springframework.http.MediaType;
import org.springframework.util.unit.DataSize;

/**
 * What the chart renders is what the gateway reads: the ConfigMaps' application.yml and limits.yml
 * are bound with Spring's Binder into the gateway's own properties records and compared key by key
 * with the values they came from; the Secret-backed environment variables reach the properties they
 * are meant for; and the real gateway starts on the rendered files and arguments and serves a request.
 */
class RenderedConfigGatewayTest {

    /**
     * Sections under {@code usage-guard:} in the values whose properties records live on branches not
     * merged here yet (sharing, limits mode, shutdown): the lead adds them to {@link #bindSection}.
     */
    private static final Set<String> NOT_YET_BOUND = Set.of("shutdown");

    @TempDir
    static Path tmp;

    static Rendered defaults;
    static Rendered production;

    @BeforeAll
    static void render() {
        defaults = HelmChart.template(null);
        production = HelmChart.template(HelmChart.PRODUCTION_VALUES);
    }

    @Test
    void renderedDefaultConfigBindsExactlyAsWritten() throws IOException {
        assertBindsAsWritten(defaults, HelmChart.yamlMap(HelmChart.DIR.resolve("values.yaml")), "defaults");
    }

    @Test
    void renderedProductionConfigBindsExactlyAsWritten() throws IOException {
        Map<String, Object> values = HelmChart.merge(HelmChart.yamlMap(HelmChart.DIR.resolve("values.yaml")),
                HelmChart.yamlMap(HelmChart.PRODUCTION_VALUES));
        StandardEnvironment env = assertBindsAsWritten(production, values, "production");
        // registry settings reach the datasource through application.yml's placeholders
        assertThat(env.getProperty("spring.datasource.url")).isEqualTo("jdbc:postgresql://postgres.db.svc:5432/usageguard");
        assertThat(env.getProperty("spring.datasource.username")).isEqualTo("usage_guard");
        assertThat(env.getProperty("spring.datasource.hikari.maximum-pool-size")).isEqualTo("10");
        // a limit written only in liveConfig merges into the model written in config
        RoutingProperties routing = Binder.get(env).bind("usage-guard", RoutingProperties.class).get();
        RoutingProperties.ModelProperties reasoner = routing.models().get("deepseek-r1*");
        assertThat(reasoner.backend()).containsExactly("reasoner");
        assertThat(reasoner.tiers().get("L1").tpm()).isEqualTo(50_000L);
    }

    @Test
    void secretEnvironmentVariablesReachTheirProperties() {
        Map<String, Map<String, Object>> env = production.env();
        for (String name : env.keySet()) {
            if (at(env.get(name), "valueFrom.secretKeyRef") == null) {
                continue;
            }
            String probe = "probe-" + UUID.randomUUID() + "@redis:6379";
            StandardEnvironment environment = new StandardEnvironment();
            MutablePropertySources sources = environment.getPropertySources();
            sources.replace(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                    new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                            Map.of(name, probe)));
            sources.addLast(load("classpath application.yml", new ClassPathResource("application.yml")));
            ConfigurationPropertySources.attach(environment);
            Binder binder = Binder.get(environment);
            switch (name) {
                case "USAGE_GUARD_ADMIN_TOKEN" ->
                    assertThat(binder.bind("usage-guard.admin", AdminProperties.class).get().token()).isEqualTo(probe);
                case "USAGE_GUARD_REGISTRY_PASSWORD" ->
                    assertThat(environment.getProperty("spring.datasource.password")).isEqualTo(probe);
                case "USAGE_GUARD_STATE_REDIS_URL" ->
                    assertThat(binder.bind("usage-guard.state", StateProperties.class).get().redis().url()).isEqualTo(probe);
                default -> fail("a Secret-backed variable this test does not know where it should land: " + name);
            }
        }
    }

    @Test
    void gatewayStartsAndServesOnTheRenderedDefaultConfig() throws IOException {
        // a stub per gateway: closing a gateway disposes reactor-netty's global resources, which an
        // in-process stub shares
        try (StubInferenceServer backend = StubInferenceServer.start();
                GatewayInstance gateway = startOn(defaults, "defaults", backend, Map.of(
                        "usage-guard.backends.default.uri", backend.uri()))) {
            assertHealthAndMetricsOnManagementPort(gateway);
            // the rendered "[*]" route serves any model from the default backend
            gateway.account("acme", "L1", "INDIVIDUAL");
            String key = gateway.issueKey("acme").key();
            long before = backend.requests();
            gateway.chat(key, "any-model-name").expectStatus().isOk()
                    .expectBody().jsonPath("$.object").isEqualTo("chat.completion");
            assertThat(backend.requests()).isEqualTo(before + 1);
        }
    }

    @Test
    void gatewayStartsAndServesOnTheRenderedProductionConfigWithPostgresAndRedis() throws IOException {
        try (StubInferenceServer backend = StubInferenceServer.start()) {
            startProductionAndServe(backend);
        }
    }

    private static void startProductionAndServe(StubInferenceServer backend) throws IOException {
        Map<String, Object> overrides = new java.util.LinkedHashMap<>(Registries.postgres());
        overrides.put("usage-guard.backends.default.uri", backend.uri());
        overrides.put("usage-guard.backends.reasoner.uri", backend.uri());
        overrides.put("usage-guard.state.redis.url", "redis://127.0.0.1:6379");
        overrides.put("usage-guard.state.redis.key-prefix", "ug-helm-" + UUID.randomUUID() + ":");
        // the rendered 50ms also bounds Lettuce's connection handshake at start-up: too tight for a
        // loaded CI machine (reported to the state owner; the timeout itself is not what this tests)
        overrides.put("usage-guard.state.redis.command-timeout", "2s");
        try (GatewayInstance gateway = startOn(production, "production", backend, overrides)) {
            assertHealthAndMetricsOnManagementPort(gateway);
            // the rendered files are in force, not just the built-in defaults
            RoutingProperties routing = gateway.bean(RoutingProperties.class);
            assertThat(routing.models()).containsKeys("deepseek-*", "deepseek-r1*", "enterprise-*");
            assertThat(routing.models().get("deepseek-r1*").backend()).containsExactly("reasoner");
            assertThat(gateway.bean(StateProperties.class).store()).isEqualTo(StateProperties.Store.REDIS);
            assertThat(gateway.bean(ClientIpProperties.class).trustedProxies()).containsExactly("10.0.0.0/8");

            gateway.account("acme", "L1", "ENTERPRISE");
            String key = gateway.issueKey("acme").key();
            long before = backend.requests();
            gateway.chat(key, "deepseek-chat").expectStatus().isOk();
            gateway.chat(key, "deepseek-r1-distill").expectStatus().isOk();
            assertThat(backend.requests()).isEqualTo(before + 2);
            // "[enterprise-*]" is rendered with allowed-tiers [L2, L3]: an L1 account is refused
            gateway.chat(key, "enterprise-large").expectStatus().isForbidden()
                    .expectBody().jsonPath("$.error.code").isEqualTo("model_not_permitted");
            assertThat(backend.requests()).isEqualTo(before + 2);
        }
    }

    // ---------------------------------------------------------------------------------------------

    /** Writes the rendered files where the rendered arguments say, rewritten under a temp dir. */
    private static GatewayInstance startOn(Rendered rendered, String name, StubInferenceServer backend,
            Map<String, Object> overrides) throws IOException {
        Path root = Files.createDirectories(tmp.resolve(name));
        Files.createDirectories(root.resolve("app"));
        Files.createDirectories(root.resolve("limits"));
        Files.writeString(root.resolve("app/application.yml"), rendered.applicationYml());
        Files.writeString(root.resolve("limits/limits.yml"), rendered.limitsYml());

        GatewayInstance.Builder builder = GatewayInstance.builder(backend.uri());
        for (Map.Entry<String, String> arg : rendered.args().entrySet()) {
            String value = arg.getValue();
            if (arg.getKey().equals("spring.config.additional-location")) {
                value = value.replace("file:/config/", "file:" + root + "/");
            }
            builder.property(arg.getKey(), value);
        }
        assertThat(rendered.args().get("spring.config.additional-location")).contains("file:" + "/config/app/application.yml");
        // test-only: random ports, this machine's PostgreSQL/Redis/stub backend
        builder.property("server.port", "0").property("management.server.port", "0");
        builder.properties(overrides);
        return builder.start();
    }

    private static void assertHealthAndMetricsOnManagementPort(GatewayInstance gateway) {
        for (String path : List.of("/actuator/health/liveness", "/actuator/health/readiness")) {
            gateway.adminWithoutToken().get().uri(path).exchange().expectStatus().isOk()
                    .expectBody().jsonPath("$.status").isEqualTo("UP");
        }
        gateway.adminWithoutToken().get().uri("/actuator/prometheus").accept(MediaType.TEXT_PLAIN)
                .exchange().expectStatus().isOk();
        // never on the public port
        gateway.api().get().uri("/actuator/health/readiness").exchange().expectStatus().value(s -> assertThat(s).isNotEqualTo(200));
    }

    /**
     * Binds the rendered files with the precedence the gateway gives them (limits.yml over
     * application.yml over the classpath defaults) and checks every key written in the values'
     * {@code config} and {@code liveConfig} against the bound records.
     */
    private static StandardEnvironment assertBindsAsWritten(Rendered rendered, Map<String, Object> values, String name)
            throws IOException {
        Path root = Files.createDirectories(tmp.resolve("bind-" + name));
        Path app = Files.writeString(root.resolve("application.yml"), rendered.applicationYml());
        Path limits = Files.writeString(root.resolve("limits.yml"), rendered.limitsYml());
        StandardEnvironment env = new StandardEnvironment();
        MutablePropertySources sources = env.getPropertySources();
        sources.remove(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME);
        sources.remove(StandardEnvironment.SYSTEM_PROPERTIES_PROPERTY_SOURCE_NAME);
        sources.addLast(load("limits.yml", new FileSystemResource(limits)));
        sources.addLast(load("application.yml", new FileSystemResource(app)));
        sources.addLast(load("classpath application.yml", new ClassPathResource("application.yml")));
        ConfigurationPropertySources.attach(env);
        Binder binder = Binder.get(env);

        Map<String, Object> written = HelmChart.merge(
                map(at(values, "config.usage-guard")), map(at(values, "liveConfig.usage-guard")));
        assertThat(written).isNotEmpty();
        for (Map.Entry<String, Object> section : written.entrySet()) {
            if (NOT_YET_BOUND.contains(section.getKey())) {
                continue;
            }
            Object bound = bindSection(binder, section.getKey());
            Object writtenSection = section.getValue();
            if (bound instanceof RoutingProperties routing) {
                // models, backends and request are components of one record bound at usage-guard
                bound = switch (section.getKey()) {
                    case "models" -> routing.models();
                    case "backends" -> routing.backends();
                    default -> routing.request();
                };
            }
            if (section.getKey().equals("registry")) {
                // pool-size feeds spring.datasource.hikari.maximum-pool-size (checked by the caller)
                Map<String, Object> registry = new java.util.LinkedHashMap<>(map(writtenSection));
                registry.remove("pool-size");
                writtenSection = registry;
            }
            assertMatches("usage-guard." + section.getKey(), writtenSection, bound);
        }
        return env;
    }

    private static Object bindSection(Binder binder, String section) {
        return switch (section) {
            case "models", "backends", "request" -> binder.bind("usage-guard", RoutingProperties.class).get();
            case "state" -> binder.bind("usage-guard.state", StateProperties.class).get();
            case "client-ip" -> binder.bind("usage-guard.client-ip", ClientIpProperties.class).get();
            case "registry" -> binder.bind("usage-guard.registry", RegistryProperties.class).get();
            case "admin" -> binder.bind("usage-guard.admin", AdminProperties.class).get();
            case "sharing" -> binder.bind("usage-guard.sharing", io.usageguard.sharing.SharingProperties.class).get();
            case "limits" -> binder.bind("usage-guard.limits", io.usageguard.ratelimit.LimitsProperties.class).get();
            case "tiers" -> binder.bind("usage-guard.tiers", Bindable.mapOf(String.class, LimitSet.class)).get();
            default -> throw new AssertionError("usage-guard." + section + " is written in the values but no "
                    + "properties record of the gateway binds it (a typo, or a record this test must learn)");
        };
    }

    /** Every key written must exist in what was bound and carry the same value. */
    private static void assertMatches(String path, Object written, Object bound) {
        if (written instanceof Map<?, ?> map) {
            if (bound instanceof Map<?, ?> boundMapOfAnyKey) {
                @SuppressWarnings("unchecked")
                Map<Object, Object> boundMap = (Map<Object, Object>) boundMapOfAnyKey;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    String key = e.getKey().toString();
                    String boundKey = key.startsWith("[") && key.endsWith("]") ? key.substring(1, key.length() - 1) : key;
                    assertThat(boundMap).as("%s: key %s is bound", path, key).containsKey(boundKey);
                    assertMatches(path + "." + key, e.getValue(), boundMap.get(boundKey));
                }
                return;
            }
            assertThat(bound).as("%s is bound to a record", path).isNotNull();
            assertThat(bound.getClass().isRecord()).as("%s bound as %s", path, bound.getClass()).isTrue();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                String key = e.getKey().toString();
                RecordComponent component = component(bound.getClass(), key);
                if (component == null) {
                    fail("%s.%s is written in the values but %s has no such property", path, key,
                            bound.getClass().getName());
                }
                try {
                    assertMatches(path + "." + key, e.getValue(), component.getAccessor().invoke(bound));
                } catch (ReflectiveOperationException ex) {
                    throw new AssertionError(ex);
                }
            }
            return;
        }
        if (bound instanceof Collection<?> boundList) {
            List<?> writtenList = written instanceof List<?> l ? l : List.<Object>of(written);
            assertThat(boundList).as(path).hasSameSizeAs(writtenList);
            List<?> b = new ArrayList<>(boundList);
            for (int i = 0; i < writtenList.size(); i++) {
                assertMatches(path + "[" + i + "]", writtenList.get(i), b.get(i));
            }
            return;
        }
        if (bound instanceof Number n && written instanceof Number w) {
            assertThat(n.longValue()).as(path).isEqualTo(w.longValue());
        } else if (bound instanceof Duration d) {
            assertThat(d).as(path).isEqualTo(DurationStyle.detectAndParse(written.toString()));
        } else if (bound instanceof DataSize size) {
            assertThat(size).as(path).isEqualTo(DataSize.parse(written.toString()));
        } else if (bound instanceof Enum<?> e) {
            assertThat(e.name()).as(path).isEqualTo(written.toString().toUpperCase(Locale.ROOT).replace('-', '_'));
        } else {
            assertThat(String.valueOf(bound)).as(path).isEqualTo(String.valueOf(written));
        }
    }

    private static RecordComponent component(Class<?> type, String kebab) {
        StringBuilder camel = new StringBuilder();
        boolean upper = false;
        for (char c : kebab.toCharArray()) {
            if (c == '-') {
                upper = true;
            } else {
                camel.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        for (RecordComponent component : type.getRecordComponents()) {
            if (component.getName().equals(camel.toString())) {
                return component;
            }
        }
        return null;
    }

    private static PropertySource<?> load(String name, org.springframework.core.io.Resource resource) {
        try {
            List<PropertySource<?>> loaded = new YamlPropertySourceLoader().load(name, resource);
            assertThat(loaded).as(name).hasSize(1);
            return loaded.get(0);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
