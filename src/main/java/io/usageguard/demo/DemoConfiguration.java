package io.usageguard.demo;

import java.time.Clock;
import java.time.Instant;
import java.util.List;

import io.usageguard.account.Account;
import io.usageguard.account.AccountStatus;
import io.usageguard.core.Cidr;
import io.usageguard.identity.ApiKey;
import io.usageguard.identity.ApiKeyFormat;
import io.usageguard.identity.KeyStatus;
import io.usageguard.registry.RegistryRepository;
import io.usageguard.verification.VerificationLevel;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;

/**
 * The {@code demo} profile only: an in-process stub backend and a seeded account with a well-known
 * key, so the gateway can be tried on a bare machine. Nothing here is active without the profile.
 */
@Configuration(proxyBeanMethods = false)
@Profile("demo")
public class DemoConfiguration {

    /** 40 base62 characters; the checksum is computed. Public on purpose: demo only. */
    static final String DEMO_KEY_BODY = "DemoKeyForTryingUsageGuardLocally0000000";
    static final String DEMO_ACCOUNT = "demo";

    @Bean(destroyMethod = "close")
    StubInferenceServer demoBackend(@Value("${usage-guard.demo.backend-port:18090}") int port) {
        return StubInferenceServer.start(port);
    }

    @Bean
    ApplicationRunner demoSeed(RegistryRepository registry, Clock clock, StubInferenceServer backend,
                               @Value("${server.port:8080}") int apiPort,
                               @Value("${management.server.port:8081}") int managementPort) {
        return (ApplicationArguments args) -> {
            String key = ApiKeyFormat.withChecksum(DEMO_KEY_BODY);
            String hash = ApiKeyFormat.hash(key);
            Instant now = clock.instant();
            if (registry.findAccount(DEMO_ACCOUNT).isEmpty()) {
                registry.insertAccount(new Account(DEMO_ACCOUNT, "L1", VerificationLevel.INDIVIDUAL, false, null,
                        false, AccountStatus.ACTIVE, null, null, now, now));
                registry.recordEvent(DEMO_ACCOUNT, null, "account_created", "gateway", "demo profile seed", now);
            }
            if (registry.findByHash(hash).isEmpty()) {
                registry.insertKey(new ApiKey("key_demo", DEMO_ACCOUNT, "demo", ApiKeyFormat.displayPrefix(key),
                        KeyStatus.ACTIVE, null, null, List.<Cidr>of(), false, now), hash);
            }
            // Demo only: the key is printed to the console (never to the log) so the README's curl works.
            System.out.println("""

                    ==== Usage Guard demo ====
                    stub backend : %s
                    API          : http://127.0.0.1:%d/v1/chat/completions
                    admin        : http://127.0.0.1:%d/admin (token: demo-admin-token)
                    demo API key : %s
                    ==========================
                    """.formatted(backend.uri(), apiPort, managementPort, key));
        };
    }
}
