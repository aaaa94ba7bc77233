package io.usageguard.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.usageguard.demo.StubInferenceServer;
import io.usageguard.testsupport.GatewayInstance;
import io.usageguard.testsupport.PrivateRedis;
import org.junit.jupiter.api.Test;

/**
 * Redis commands per request in {@code redis} state with every restriction on (the limits of
 * bench/guard.yml: the account's seven windows but images, per-key caps, account and key
 * concurrency), without and with a model's global ceiling. Starts its own redis-server, records
 * the measured requests with {@code MONITOR} and counts the commands on rate-limit keys, split
 * into what the gateway sends (round trips) and what scripts run inside Redis; before that, the
 * same number of requests without MONITOR gives Redis's own time per request (INFO commandstats).
 * Not part of the test suite (its name ends in Bench); run with
 * {@code ./mvnw -q test -Dtest=RedisCommandsPerRequestBench -Dsurefire.failIfNoSpecifiedTests=false} and read
 * {@code target/surefire-reports/io.usageguard.ratelimit.RedisCommandsPerRequestBench-output.txt}.
 */
class RedisCommandsPerRequestBench {

    static final int WARM_UP = 50;
    static final int REQUESTS = 500;
    static final Pattern LINE = Pattern.compile("^\\d+\\.\\d+ \\[\\d+ ([^\\]]+)\\] \"([^\"]+)\"(.*)$");

    @Test
    void commandsPerRequest() throws Exception {
        PrivateRedis redis = PrivateRedis.start();
        int port = redis.port();
        StubInferenceServer backend = StubInferenceServer.start();
        String prefix = "ugbench-" + UUID.randomUUID().toString().substring(0, 8) + ":";
        GatewayInstance g = null;
        try {
            GatewayInstance.Builder b = GatewayInstance.builder(backend.uri())
                    .property("usage-guard.state.store", "redis")
                    .property("usage-guard.state.redis.url", "redis://127.0.0.1:" + port)
                    .property("usage-guard.state.redis.key-prefix", prefix)
                    .property("usage-guard.state.redis.command-timeout", "2s")
                    .property("usage-guard.models.[global-model].backend", "default")
                    .property("usage-guard.models.[global-model].min-verification", "INDIVIDUAL")
                    .property("usage-guard.models.[global-model].global.rpm", 1_000_000_000)
                    .property("usage-guard.models.[global-model].global.tpm", 10_000_000_000L)
                    .property("usage-guard.models.[global-model].global.concurrency", 100_000);
            Map<String, Object> l1 = Map.of("rpm", 1_000_000_000, "rph", 1_000_000_000, "rpd", 1_000_000_000,
                    "tpm", 10_000_000_000L, "tpd", 1_000_000_000_000L, "concurrency", 100_000,
                    "per-key.rpm", 1_000_000_000, "per-key.tpm", 10_000_000_000L, "per-key.concurrency", 100_000);
            l1.forEach((k, v) -> b.property("usage-guard.tiers.L1." + k, v));
            g = b.start();
            g.account("bench", "L1", "INDIVIDUAL");
            String key = g.issueKey("bench").key();
            for (String model : List.of("test-model", "global-model")) {
                measure(g, key, model, redis, prefix);
            }
        } finally {
            if (g != null) {
                g.close();
            }
            backend.close();
            redis.close();
        }
    }

    private static void measure(GatewayInstance g, String key, String model, PrivateRedis redis, String prefix) throws Exception {
        long pid = redis.pid();
        for (int i = 0; i < WARM_UP; i++) {
            assertThat(RateLimitTestSupport.chat(g, key, model, 10).getStatus().value()).isEqualTo(200);
        }
        Thread.sleep(500);
        // Redis's own time: INFO commandstats around the requests (scripts' inner commands included)
        Map<String, long[]> before = redis.commandStats();
        long cpuBefore = cpuNanos(pid);
        for (int i = 0; i < REQUESTS; i++) {
            assertThat(RateLimitTestSupport.chat(g, key, model, 10).getStatus().value()).isEqualTo(200);
        }
        Thread.sleep(1000);
        long cpu = cpuNanos(pid) - cpuBefore;
        Map<String, long[]> after = redis.commandStats();
        long usec = 0;
        long calls = 0;
        for (Map.Entry<String, long[]> e : after.entrySet()) {
            if (e.getKey().equals("info")) {
                continue;
            }
            long[] b = before.getOrDefault(e.getKey(), new long[2]);
            calls += e.getValue()[0] - b[0];
            usec += e.getValue()[1] - b[1];
        }
        Path log = Files.createTempFile("redis-monitor", ".txt");
        Process monitor = new ProcessBuilder("redis-cli", "-p", Integer.toString(redis.port()), "monitor")
                .redirectOutput(log.toFile()).redirectErrorStream(true).start();
        try {
            Thread.sleep(500);
            for (int i = 0; i < REQUESTS; i++) {
                assertThat(RateLimitTestSupport.chat(g, key, model, 10).getStatus().value()).isEqualTo(200);
            }
            Thread.sleep(1000); // the fire-and-forget calls at the end of the last responses
        } finally {
            monitor.destroy();
            monitor.waitFor();
        }
        Map<String, Integer> sent = new TreeMap<>();
        Map<String, Integer> inScripts = new TreeMap<>();
        int sentAll = 0;
        for (String line : Files.readAllLines(log)) {
            Matcher m = LINE.matcher(line);
            if (!m.matches()) {
                continue;
            }
            String command = m.group(2).toUpperCase();
            boolean script = m.group(1).equals("lua");
            if (!script) {
                sentAll++;
            }
            if (!m.group(3).contains(prefix + "rl:")) {
                continue;
            }
            (script ? inScripts : sent).merge(command, 1, Integer::sum);
        }
        Files.delete(log);
        System.out.printf("%n%s (%d requests, %s):%n", model, REQUESTS,
                model.equals("global-model") ? "with global rpm/tpm/concurrency" : "no global limits");
        System.out.printf("  INFO commandstats: %.2f commands (inner ones included), %.1f µs of Redis time per request%n",
                (double) calls / REQUESTS, (double) usec / REQUESTS);
        System.out.printf("  redis-server process CPU time: %.1f µs per request (network I/O included)%n",
                cpu / 1000.0 / REQUESTS);
        System.out.printf("  every command the gateway sent: %.2f per request%n", (double) sentAll / REQUESTS);
        print("  rate-limit commands sent (round trips)", sent);
        print("  rate-limit commands run inside scripts", inScripts);
    }

    /** Time the process has spent on a CPU, from {@code /proc/<pid>/schedstat}. */
    private static long cpuNanos(long pid) throws IOException {
        return Long.parseLong(Files.readString(Path.of("/proc/" + pid + "/schedstat")).trim().split(" ")[0]);
    }

    private static void print(String title, Map<String, Integer> counts) {
        int total = counts.values().stream().mapToInt(Integer::intValue).sum();
        System.out.printf("%s: %.2f per request%n", title, (double) total / REQUESTS);
        counts.forEach((c, n) -> System.out.printf("    %-18s %6.2f%n", c, (double) n / REQUESTS));
    }
}
