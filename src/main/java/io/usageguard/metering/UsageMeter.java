package io.usageguard.metering;

import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.RequestEnd;
import io.usageguard.pipeline.RequestObserver;
import io.usageguard.usage.TokenUsage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.scheduling.concurrent.CustomizableThreadFactory;
import org.springframework.stereotype.Component;

/**
 * Usage records for billing. Every request that got as far as an account is counted in memory
 * (lock-free on the request path: one map lookup and a few {@link LongAdder}s), per account, key,
 * model and UTC day; a single background thread writes the counts to {@code usage_records} every
 * {@code usage-guard.metering.flush-interval}, and once more when the application stops (after the
 * web servers, before the DataSource closes).
 *
 * <p>A flush that fails keeps its counts and merges them with the next ones, so nothing is lost
 * while the database is away; memory is bounded by {@code max-pending-records} rows, and whatever
 * cannot be kept is counted in {@code usage_guard_metering_dropped_records_total} (requests whose
 * usage was lost) and logged.
 */
@Component
public class UsageMeter implements RequestObserver, SmartLifecycle {

    /** Model recorded for requests refused before their body named a model. */
    public static final String NO_MODEL = "-";
    static final int MAX_MODEL_LENGTH = 200;

    private static final Logger log = LoggerFactory.getLogger(UsageMeter.class);

    private final MeteringProperties properties;
    private final UsageRepository repository;
    private final Clock clock;
    private final Counter dropped;
    private final Counter flushFailures;

    /** The counts requests are added to now; swapped for an empty one at each flush. */
    private volatile Generation current = new Generation();
    /** Counts taken out of a generation but not yet written (a flush failed). Guarded by {@link #lock}. */
    private final Map<UsageKey, UsageCounts> pending = new HashMap<>();
    /** Serialises flushes and usage queries, so a query never sees a row both in memory and in the table. */
    private final ReentrantLock lock = new ReentrantLock();

    private ScheduledExecutorService flusher;
    private volatile boolean running;

    public UsageMeter(MeteringProperties properties, UsageRepository repository, Clock clock, MeterRegistry meters) {
        this.properties = properties;
        this.repository = repository;
        this.clock = clock;
        this.dropped = Counter.builder("usage_guard.metering.dropped.records")
                .description("Requests whose usage record was dropped (memory bound reached or the final flush failed)")
                .register(meters);
        this.flushFailures = Counter.builder("usage_guard.metering.flush.failures")
                .description("Usage flushes that failed and will be retried")
                .register(meters);
    }

    // ---- the request path -------------------------------------------------------------------

    @Override
    public void onComplete(GuardContext ctx, RequestEnd end) {
        if (!properties.enabled() || ctx.account() == null || ctx.key() == null) {
            return;
        }
        String model = ctx.inference() == null ? NO_MODEL : model(ctx.inference().model());
        UsageKey key = new UsageKey(ctx.account().id(), ctx.key().id(), model,
                LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC));
        TokenUsage usage = ctx.usage();
        record(key, end.error() == null, usage == null ? 0 : usage.promptTokens(),
                usage == null ? 0 : usage.completionTokens());
    }

    void record(UsageKey key, boolean allowed, long promptTokens, long completionTokens) {
        for (;;) {
            Generation g = current;
            g.writers.incrementAndGet();
            try {
                if (g != current) {
                    continue; // a flush swapped it meanwhile: write into the new one
                }
                Counts c = g.counts.get(key);
                if (c == null) {
                    if (g.counts.size() >= properties.maxPendingRecords()) {
                        dropped.increment();
                        return;
                    }
                    c = g.counts.computeIfAbsent(key, k -> new Counts());
                }
                (allowed ? c.requests : c.rejected).increment();
                if (promptTokens > 0) {
                    c.prompt.add(promptTokens);
                }
                if (completionTokens > 0) {
                    c.completion.add(completionTokens);
                }
                return;
            } finally {
                g.writers.decrementAndGet();
            }
        }
    }

    private static String model(String model) {
        if (model == null || model.isEmpty()) {
            return NO_MODEL;
        }
        return model.length() > MAX_MODEL_LENGTH ? model.substring(0, MAX_MODEL_LENGTH) : model;
    }

    // ---- flushing ---------------------------------------------------------------------------

    /** Writes everything counted so far. Blocking; false when the database write failed (the counts are kept). */
    public boolean flush() {
        lock.lock();
        try {
            drainCurrent();
            if (pending.isEmpty()) {
                return true;
            }
            List<Map.Entry<UsageKey, UsageCounts>> rows = new ArrayList<>(new TreeMap<>(pending).entrySet());
            try {
                repository.add(rows, clock.instant(), properties.batchSize());
                pending.clear();
                return true;
            } catch (RuntimeException e) {
                flushFailures.increment();
                log.warn("usage flush of {} records failed, kept for the next attempt: {}", rows.size(), e.toString());
                return false;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Moves the current generation's counts into {@link #pending}. Caller holds the lock. */
    private void drainCurrent() {
        Generation old = current;
        current = new Generation();
        int spins = 0;
        while (old.writers.get() != 0) { // writers that started before the swap finish in nanoseconds
            if (++spins < 1000) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        long lost = 0;
        for (Map.Entry<UsageKey, Counts> e : old.counts.entrySet()) {
            UsageCounts c = e.getValue().snapshot();
            if (c.isZero()) {
                continue;
            }
            UsageCounts before = pending.get(e.getKey());
            if (before == null && pending.size() >= properties.maxPendingRecords()) {
                lost += c.allRequests();
                continue;
            }
            pending.put(e.getKey(), before == null ? c : before.plus(c));
        }
        if (lost > 0) {
            dropped.increment(lost);
            log.error("usage records of {} requests dropped: {} records already wait for the registry database"
                    + " (usage-guard.metering.max-pending-records)", lost, pending.size());
        }
    }

    /**
     * Calls {@code sink} with every count not yet in the table for this account, {@code from}..{@code to}
     * inclusive, while holding the flush lock: {@code tableRead} runs first, under the same lock, so the
     * two never overlap a flush.
     */
    <T> T withUnflushed(String accountId, LocalDate from, LocalDate to,
                        java.util.function.Supplier<T> tableRead, BiConsumer<UsageKey, UsageCounts> sink) {
        lock.lock();
        try {
            T fromTable = tableRead.get();
            pending.forEach((k, c) -> {
                if (matches(k, accountId, from, to)) {
                    sink.accept(k, c);
                }
            });
            current.counts.forEach((k, c) -> {
                if (matches(k, accountId, from, to)) {
                    sink.accept(k, c.snapshot());
                }
            });
            return fromTable;
        } finally {
            lock.unlock();
        }
    }

    /** Requests counted and not yet written (for tests and diagnostics). */
    long unflushedRequests() {
        lock.lock();
        try {
            long n = pending.values().stream().mapToLong(UsageCounts::allRequests).sum();
            for (Counts c : current.counts.values()) {
                n += c.snapshot().allRequests();
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    private static boolean matches(UsageKey k, String accountId, LocalDate from, LocalDate to) {
        return k.accountId().equals(accountId) && !k.day().isBefore(from) && !k.day().isAfter(to);
    }

    // ---- lifecycle --------------------------------------------------------------------------

    @Override
    public void start() {
        CustomizableThreadFactory threads = new CustomizableThreadFactory("usage-flush-");
        threads.setDaemon(true);
        flusher = Executors.newSingleThreadScheduledExecutor(threads);
        long every = properties.flushInterval().toMillis();
        flusher.scheduleWithFixedDelay(this::scheduledFlush, every, every, TimeUnit.MILLISECONDS);
        running = true;
    }

    private void scheduledFlush() {
        try {
            flush();
        } catch (RuntimeException e) { // never let the schedule die
            log.warn("usage flush failed: {}", e.toString());
        }
    }

    @Override
    public void stop() {
        running = false;
        if (flusher != null) {
            flusher.shutdown();
            try {
                flusher.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (int attempt = 1; attempt <= properties.shutdownFlushAttempts(); attempt++) {
            if (flush()) {
                return;
            }
            if (attempt < properties.shutdownFlushAttempts()) {
                try {
                    Thread.sleep(500L * attempt); // shutdown only: give the database a moment
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        lock.lock();
        try {
            long lost = pending.values().stream().mapToLong(UsageCounts::allRequests).sum();
            if (lost > 0) {
                dropped.increment(lost);
                log.error("usage records of {} requests ({} rows) could not be written at shutdown and are lost",
                        lost, pending.size());
                pending.clear();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Stops after the web servers (graceful shutdown included), so the last requests are counted too. */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE - 4096;
    }

    // ---- internals --------------------------------------------------------------------------

    private static final class Generation {
        final ConcurrentHashMap<UsageKey, Counts> counts = new ConcurrentHashMap<>();
        final AtomicInteger writers = new AtomicInteger();
    }

    private static final class Counts {
        final LongAdder requests = new LongAdder();
        final LongAdder rejected = new LongAdder();
        final LongAdder prompt = new LongAdder();
        final LongAdder completion = new LongAdder();

        UsageCounts snapshot() {
            return new UsageCounts(requests.sum(), rejected.sum(), prompt.sum(), completion.sum());
        }
    }
}
