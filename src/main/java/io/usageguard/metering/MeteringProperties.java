package io.usageguard.metering;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.metering.*}: usage records for billing.
 *
 * @param enabled               record usage at all (default true)
 * @param flushInterval         how often the in-memory counts are written to the registry database
 * @param maxPendingRecords     most distinct (account, key, model, day) rows held in memory, counting those
 *                              waiting for a failed flush to be retried; beyond it a request's usage is dropped
 *                              and counted in {@code usage_guard_metering_dropped_records_total}
 * @param batchSize             rows per JDBC batch within one flush transaction
 * @param maxQueryDays          longest {@code from..to} range the usage endpoint answers (inclusive days)
 * @param shutdownFlushAttempts tries of the final flush at shutdown before the counts are given up (and counted)
 */
@ConfigurationProperties("usage-guard.metering")
public record MeteringProperties(
        @DefaultValue("true") boolean enabled,
        @DefaultValue("10s") Duration flushInterval,
        @DefaultValue("100000") int maxPendingRecords,
        @DefaultValue("500") int batchSize,
        @DefaultValue("366") int maxQueryDays,
        @DefaultValue("3") int shutdownFlushAttempts) {

    public MeteringProperties {
        if (flushInterval == null || flushInterval.isNegative() || flushInterval.isZero()) {
            throw new IllegalArgumentException("usage-guard.metering.flush-interval must be positive");
        }
        if (maxPendingRecords < 1 || batchSize < 1 || maxQueryDays < 1 || shutdownFlushAttempts < 1) {
            throw new IllegalArgumentException("usage-guard.metering.{max-pending-records,batch-size,max-query-days,"
                    + "shutdown-flush-attempts} must be at least 1");
        }
    }
}
