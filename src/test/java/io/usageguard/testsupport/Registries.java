package io.usageguard.testsupport;

import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * Registry databases for tests: a fresh in-memory H2, or a fresh schema in the real PostgreSQL on
 * this machine (127.0.0.1:5432, database {@code test}; override with UG_TEST_PG_URL / UG_TEST_PG_USER).
 */
public final class Registries {

    public static final String PG_URL = System.getenv().getOrDefault("UG_TEST_PG_URL",
            "jdbc:postgresql://127.0.0.1:5432/test");
    public static final String PG_USER = System.getenv().getOrDefault("UG_TEST_PG_USER", "postgres");

    private Registries() {
    }

    public static Map<String, Object> h2() {
        String name = "ug" + UUID.randomUUID().toString().replace("-", "");
        return Map.of("usage-guard.registry.url",
                "jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
    }

    /** A new schema per call, so test classes never see each other's rows. */
    public static Map<String, Object> postgres() {
        return postgres("ug_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16).toLowerCase(Locale.ROOT));
    }

    /** A named schema: two gateway instances given the same name share one registry. */
    public static Map<String, Object> postgres(String schema) {
        return Map.of(
                "usage-guard.registry.url", PG_URL + "?currentSchema=" + schema,
                "usage-guard.registry.username", PG_USER,
                "spring.flyway.schemas", schema,
                "spring.flyway.create-schemas", "true");
    }
}
