package io.usageguard.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import javax.sql.DataSource;

import io.usageguard.account.Account;
import io.usageguard.account.AccountStatus;
import io.usageguard.core.Cidr;
import io.usageguard.identity.ApiKey;
import io.usageguard.identity.ApiKeyFormat;
import io.usageguard.identity.KeyStatus;
import io.usageguard.testsupport.Registries;
import io.usageguard.verification.VerificationLevel;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.postgresql.ds.PGSimpleDataSource;
import org.springframework.jdbc.core.simple.JdbcClient;

/** The same migrations and SQL against embedded H2 and the real PostgreSQL on this machine. */
class RegistryRepositoryTest {

    static Stream<Arguments> databases() {
        return Stream.of(Arguments.of("h2"), Arguments.of("postgresql"));
    }

    private static DataSource dataSource(String kind) {
        String schema = "ug_repo_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        DataSource ds;
        if (kind.equals("h2")) {
            JdbcDataSource h2 = new JdbcDataSource();
            h2.setURL((String) Registries.h2().get("usage-guard.registry.url"));
            h2.setUser("sa");
            ds = h2;
            schema = null;
        } else {
            PGSimpleDataSource pg = new PGSimpleDataSource();
            pg.setURL(Registries.PG_URL + "?currentSchema=" + schema);
            pg.setUser(Registries.PG_USER);
            ds = pg;
        }
        var config = Flyway.configure().dataSource(ds).locations("classpath:db/migration");
        if (schema != null) {
            config.schemas(schema).createSchemas(true);
        }
        config.load().migrate();
        return ds;
    }

    private static final Instant NOW = Instant.parse("2026-11-23T10:00:00Z");

    @ParameterizedTest
    @MethodSource("databases")
    void accountsRoundTrip(String kind) {
        RegistryRepository repo = new RegistryRepository(JdbcClient.create(dataSource(kind)));
        Instant until = NOW.plus(3, ChronoUnit.DAYS);
        Account a = new Account("acct-1", "L2", VerificationLevel.ENTERPRISE, true, "expired id", false,
                AccountStatus.SUSPENDED, "fraud review", until, NOW, NOW);
        repo.insertAccount(a);
        assertThat(repo.findAccount("acct-1")).contains(a);
        assertThat(repo.findAccount("nobody")).isEmpty();
        Account b = new Account("acct-1", "L3", VerificationLevel.INDIVIDUAL, false, null, true,
                AccountStatus.ACTIVE, null, null, NOW, NOW.plusSeconds(5));
        repo.updateAccount(b);
        assertThat(repo.findAccount("acct-1")).contains(b);
    }

    @ParameterizedTest
    @MethodSource("databases")
    void keysAreFoundByHashOnlyAndTheSecretIsNeverStored(String kind) {
        DataSource ds = dataSource(kind);
        RegistryRepository repo = new RegistryRepository(JdbcClient.create(ds));
        repo.insertAccount(new Account("acct-2", "L1", VerificationLevel.INDIVIDUAL, false, null, false,
                AccountStatus.ACTIVE, null, null, NOW, NOW));
        String secret = ApiKeyFormat.generate();
        ApiKey key = new ApiKey("key_abc", "acct-2", "ci", ApiKeyFormat.displayPrefix(secret), KeyStatus.ACTIVE, null,
                NOW.plus(30, ChronoUnit.DAYS), List.of(Cidr.parse("203.0.113.0/24"), Cidr.parse("2001:db8::/32")),
                false, NOW);
        repo.insertKey(key, ApiKeyFormat.hash(secret));
        assertThat(repo.findByHash(ApiKeyFormat.hash(secret))).contains(key);
        assertThat(repo.findByHash(ApiKeyFormat.hash(secret + "x"))).isEmpty();
        assertThat(repo.findKey("key_abc")).hasValueSatisfying(r -> assertThat(r.hash()).isEqualTo(ApiKeyFormat.hash(secret)));
        assertThat(repo.keysOf("acct-2")).containsExactly(key);
        repo.updateKeyStatus("key_abc", KeyStatus.SUSPENDED, "suspected_transfer", NOW);
        assertThat(repo.findByHash(ApiKeyFormat.hash(secret)).orElseThrow().status()).isEqualTo(KeyStatus.SUSPENDED);

        // no column of any row holds the plaintext key
        List<Map<String, Object>> rows = JdbcClient.create(ds).sql("select * from api_keys").query().listOfRows();
        assertThat(rows).hasSize(1);
        assertThat(rows.get(0).values()).noneMatch(v -> v != null && v.toString().contains(secret.substring(3)));
        // duplicate hashes are refused by the database itself
        assertThatThrownBy(() -> repo.insertKey(new ApiKey("key_def", "acct-2", null, "sk-xxxx", KeyStatus.ACTIVE,
                null, null, List.of(), false, NOW), ApiKeyFormat.hash(secret)))
                .isInstanceOf(org.springframework.dao.DataIntegrityViolationException.class);
    }

    @ParameterizedTest
    @MethodSource("databases")
    void eventsComeBackNewestFirst(String kind) {
        RegistryRepository repo = new RegistryRepository(JdbcClient.create(dataSource(kind)));
        repo.recordEvent("acct-3", null, "account_suspended", "admin", "first", NOW);
        repo.recordEvent("acct-3", "key_1", "key_suspended", "gateway", "suspected_transfer", NOW.plusSeconds(1));
        repo.recordEvent("acct-4", null, "account_suspended", "admin", "other account", NOW.plusSeconds(2));
        List<EnforcementEvent> events = repo.eventsOf("acct-3", 10);
        assertThat(events).extracting(EnforcementEvent::action).containsExactly("key_suspended", "account_suspended");
        assertThat(events.get(0).actor()).isEqualTo("gateway");
        assertThat(events.get(0).keyId()).isEqualTo("key_1");
        assertThat(events.get(0).occurredAt()).isEqualTo(NOW.plusSeconds(1));
        assertThat(repo.eventsOf("acct-3", 1)).hasSize(1);
    }
}
