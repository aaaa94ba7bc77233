package io.usageguard.metering;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.core.io.ClassPathResource;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.SimpleDriverDataSource;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The lock-free aggregation: many threads recording while flushes swap generations underneath them;
 * the table ends with exactly what was recorded, nothing lost and nothing counted twice. Runs on a
 * real (in-memory) H2 with the real migration.
 */
class UsageMeterConcurrencyTest {

    @Test
    void concurrentRecordingAndFlushingLosesAndDuplicatesNothing() throws Exception {
        SimpleDriverDataSource ds = new SimpleDriverDataSource(new org.h2.Driver(),
                "jdbc:h2:mem:" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE", "sa", "");
        JdbcTemplate jdbc = new JdbcTemplate(ds);
        jdbc.execute(new ClassPathResource("db/migration/V3__usage.sql").getContentAsString(StandardCharsets.UTF_8));
        UsageRepository repository = new UsageRepository(jdbc, new TransactionTemplate(new DataSourceTransactionManager(ds)));
        MeteringProperties properties = new MeteringProperties(true, Duration.ofHours(1), 100_000, 50, 366, 1);
        Clock clock = Clock.fixed(Instant.parse("2026-11-23T12:00:00Z"), ZoneOffset.UTC);
        UsageMeter meter = new UsageMeter(properties, repository, clock, new SimpleMeterRegistry());
        LocalDate day = LocalDate.of(2026, 11, 23);

        int threads = 6;
        int perThread = 30_000;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> writers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            writers.add(pool.submit(() -> {
                go.await();
                for (int i = 0; i < perThread; i++) {
                    // a hot row every thread shares, and one of 20 rows per thread
                    meter.record(new UsageKey("acct", "hot", "m", day), true, 3, 2);
                    meter.record(new UsageKey("acct", "k" + id + "-" + (i % 20), "m", day), i % 10 != 0, 1, 1);
                }
                return null;
            }));
        }
        AtomicBoolean done = new AtomicBoolean();
        Future<Integer> flusher = Executors.newSingleThreadExecutor().submit(() -> {
            int flushes = 0;
            while (!done.get()) {
                assertThat(meter.flush()).isTrue();
                flushes++;
            }
            return flushes;
        });
        go.countDown();
        for (Future<?> w : writers) {
            w.get(120, TimeUnit.SECONDS);
        }
        done.set(true);
        assertThat(flusher.get(60, TimeUnit.SECONDS)).isGreaterThan(1);
        assertThat(meter.flush()).isTrue();
        pool.shutdown();

        long n = (long) threads * perThread;
        assertThat(jdbc.queryForObject("select requests from usage_records where key_id = 'hot'", Long.class)).isEqualTo(n);
        assertThat(jdbc.queryForObject("select prompt_tokens from usage_records where key_id = 'hot'", Long.class))
                .isEqualTo(3 * n);
        assertThat(jdbc.queryForObject("select completion_tokens from usage_records where key_id = 'hot'", Long.class))
                .isEqualTo(2 * n);
        assertThat(jdbc.queryForObject("select sum(requests) from usage_records where key_id <> 'hot'", Long.class))
                .isEqualTo(n * 9 / 10);
        assertThat(jdbc.queryForObject("select sum(rejected_requests) from usage_records where key_id <> 'hot'",
                Long.class)).isEqualTo(n / 10);
        assertThat(jdbc.queryForObject("select count(*) from usage_records", Long.class)).isEqualTo(1 + threads * 20L);
    }
}
