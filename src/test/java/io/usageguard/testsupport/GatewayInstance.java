package io.usageguard.testsupport;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import io.usageguard.UsageGuardApplication;
import io.usageguard.admin.AdminViews;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerInitializedEvent;
import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The real application, started on random ports in this JVM and driven over HTTP. Several may run
 * at once (replicas sharing PostgreSQL and Redis). Defaults: an admin token, one model
 * {@code test-model} (INDIVIDUAL) and {@code enterprise-model} (ENTERPRISE) on the given backend.
 */
public final class GatewayInstance implements AutoCloseable {

    public static final String ADMIN_TOKEN = "test-admin-token-0123456789";

    private final ConfigurableApplicationContext context;
    private final int apiPort;
    private final int managementPort;
    private final WebTestClient api;
    private final WebTestClient admin;
    private final reactor.netty.resources.ConnectionProvider connections;
    private final org.springframework.http.client.reactive.ReactorClientHttpConnector connector;

    private GatewayInstance(Map<String, Object> properties, MutableClock clock,
                            List<ApplicationContextInitializer<ConfigurableApplicationContext>> initializers) {
        AtomicInteger api = new AtomicInteger(-1);
        AtomicInteger management = new AtomicInteger(-1);
        SpringApplicationBuilder builder = new SpringApplicationBuilder(UsageGuardApplication.class)
                .listeners(event -> {
                    if (event instanceof WebServerInitializedEvent e) {
                        String ns = e.getApplicationContext().getServerNamespace();
                        ("management".equals(ns) ? management : api).set(e.getWebServer().getPort());
                    }
                });
        // Several gateways share this JVM: none may dispose reactor-netty's global loops and pools,
        // which the others (and the tests' WebTestClients) still use. Production has one context.
        builder.initializers(ctx -> ctx.getBeanFactory().registerSingleton("reactorResourceFactory",
                new KeepGlobalReactorResources()));
        if (clock != null) {
            builder.initializers(ctx -> ctx.getBeanFactory().registerSingleton("testClock", clock));
        }
        for (ApplicationContextInitializer<ConfigurableApplicationContext> i : initializers) {
            builder.initializers(i);
        }
        // as command-line arguments, so they win over application.yml like an operator's settings do
        String[] args = properties.entrySet().stream().map(e -> "--" + e.getKey() + "=" + e.getValue())
                .toArray(String[]::new);
        this.context = builder.run(args);
        this.apiPort = api.get();
        this.managementPort = management.get();
        // this instance's own connection pool: a pooled connection to a port that an earlier, closed
        // instance had can never be reused for this one (the port numbers are recycled)
        this.connections = reactor.netty.resources.ConnectionProvider.create("gateway-test-" + apiPort, 64);
        this.connector = new org.springframework.http.client.reactive.ReactorClientHttpConnector(
                reactor.netty.http.client.HttpClient.create(connections));
        this.api = WebTestClient.bindToServer(connector).baseUrl("http://127.0.0.1:" + apiPort)
                .filter(READ_WHOLE_BODY).responseTimeout(Duration.ofSeconds(30)).build();
        this.admin = WebTestClient.bindToServer(connector).baseUrl("http://127.0.0.1:" + managementPort)
                .defaultHeader("Authorization", "Bearer " + ADMIN_TOKEN)
                .filter(READ_WHOLE_BODY).responseTimeout(Duration.ofSeconds(30)).build();
    }

    /**
     * Every answer is read to its end as it arrives, so a test that looks only at the status
     * (`exchange().expectStatus()`) still frees the pooled connection and the response's buffers
     * (an unread body holds both: 300 such calls leaked buffers and then waited on the pool).
     * The tests' clients are for whole answers; streams are read incrementally with {@link Http}.
     */
    static final org.springframework.web.reactive.function.client.ExchangeFilterFunction READ_WHOLE_BODY =
            (request, next) -> next.exchange(request).flatMap(response -> response.bodyToMono(byte[].class)
                    .defaultIfEmpty(new byte[0])
                    .map(bytes -> response.mutate().body(body -> reactor.core.publisher.Flux.just(
                            org.springframework.core.io.buffer.DefaultDataBufferFactory.sharedInstance.wrap(bytes))).build()));

    public static Builder builder(String backendUri) {
        return new Builder(backendUri);
    }

    public static final class Builder {
        private final Map<String, Object> properties = new LinkedHashMap<>();
        private MutableClock clock;
        private final List<ApplicationContextInitializer<ConfigurableApplicationContext>> initializers = new ArrayList<>();

        Builder(String backendUri) {
            properties.put("server.port", "0");
            properties.put("management.server.port", "0");
            properties.put("usage-guard.admin.token", ADMIN_TOKEN);
            properties.put("usage-guard.backends.default.uri", backendUri);
            properties.put("usage-guard.models.[test-model].backend", "default");
            properties.put("usage-guard.models.[test-model].min-verification", "INDIVIDUAL");
            properties.put("usage-guard.models.[enterprise-model].backend", "default");
            properties.put("usage-guard.models.[enterprise-model].min-verification", "ENTERPRISE");
            properties.put("spring.main.banner-mode", "off");
            properties.putAll(Registries.h2());
        }

        public Builder property(String key, Object value) {
            properties.put(key, value);
            return this;
        }

        public Builder properties(Map<String, Object> more) {
            properties.putAll(more);
            return this;
        }

        public Builder clock(MutableClock clock) {
            this.clock = clock;
            return this;
        }

        /** An extra singleton in the application context, e.g. a test {@code RequestObserver}. */
        public Builder bean(String name, Object bean) {
            initializers.add(ctx -> ctx.getBeanFactory().registerSingleton(name, bean));
            return this;
        }

        /** Runs before the context refreshes, e.g. to register a test's own bean. */
        public Builder initializer(ApplicationContextInitializer<ConfigurableApplicationContext> initializer) {
            initializers.add(initializer);
            return this;
        }

        public GatewayInstance start() {
            return new GatewayInstance(properties, clock, initializers);
        }
    }

    public WebTestClient api() {
        return api;
    }

    public WebTestClient admin() {
        return admin;
    }

    /** The admin API without the token. */
    public WebTestClient adminWithoutToken() {
        return WebTestClient.bindToServer(connector).baseUrl("http://127.0.0.1:" + managementPort)
                .filter(READ_WHOLE_BODY).build();
    }

    public int apiPort() {
        return apiPort;
    }

    public int managementPort() {
        return managementPort;
    }

    public ConfigurableApplicationContext context() {
        return context;
    }

    public <T> T bean(Class<T> type) {
        return context.getBean(type);
    }

    /** Creates (or updates) an account through the admin API. */
    public void account(String accountId, String tier, String verification) {
        admin.put().uri("/admin/accounts/{id}", accountId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("tier", tier, "verification", verification, "minor", false))
                .exchange().expectStatus().isOk();
    }

    /** Issues a key through the admin API and returns it. */
    public AdminViews.IssuedKey issueKey(String accountId) {
        return issueKey(accountId, Map.of("name", "test"));
    }

    public AdminViews.IssuedKey issueKey(String accountId, Map<String, Object> body) {
        return admin.post().uri("/admin/accounts/{id}/keys", accountId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(body).exchange().expectStatus().isCreated()
                .expectBody(AdminViews.IssuedKey.class).returnResult().getResponseBody();
    }

    /** A chat completion request with the given key. */
    public WebTestClient.ResponseSpec chat(String key, String model) {
        return api.post().uri("/v1/chat/completions").header("Authorization", "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}")
                .exchange();
    }

    @Override
    public void close() {
        context.close();
        connections.disposeLater().block(Duration.ofSeconds(5));
    }

    /** Reactor-netty's global resources, left running when a context closes (see the constructor). */
    static final class KeepGlobalReactorResources extends org.springframework.http.client.ReactorResourceFactory {

        KeepGlobalReactorResources() {
            setUseGlobalResources(true);
        }

        @Override
        public void stop() {
        }

        @Override
        public void destroy() {
        }
    }
}
