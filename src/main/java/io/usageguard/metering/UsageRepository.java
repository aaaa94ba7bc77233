package io.usageguard.metering;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.springframework.jdbc.core.BatchPreparedStatementSetter;
import org.springframework.jdbc.core.ConnectionCallback;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The SQL of {@code usage_records}. Blocking: called from the metering flush thread and from the
 * admin API on bounded-elastic threads, never on the event loop.
 *
 * <p>The upsert adds to a row's counts. PostgreSQL uses {@code insert ... on conflict do update},
 * which is safe when several replicas upsert the same row at once; H2 (which does not support
 * {@code on conflict do update}, not even in PostgreSQL mode) uses the standard {@code merge}, fine
 * for the single-instance embedded registry.
 */
@Repository
public class UsageRepository {

    private static final String COLUMNS =
            "account_id, key_id, model, usage_day, requests, rejected_requests, prompt_tokens, completion_tokens, updated_at";

    private static final String POSTGRES_UPSERT = "insert into usage_records as t (" + COLUMNS + ")"
            + " values (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            + " on conflict (account_id, usage_day, model, key_id) do update set"
            + " requests = t.requests + excluded.requests,"
            + " rejected_requests = t.rejected_requests + excluded.rejected_requests,"
            + " prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,"
            + " completion_tokens = t.completion_tokens + excluded.completion_tokens,"
            + " updated_at = excluded.updated_at";

    private static final String STANDARD_MERGE = "merge into usage_records t using (values ("
            + "cast(? as varchar(128)), cast(? as varchar(64)), cast(? as varchar(200)), cast(? as date),"
            + " cast(? as bigint), cast(? as bigint), cast(? as bigint), cast(? as bigint),"
            + " cast(? as timestamp with time zone))) s (" + COLUMNS + ")"
            + " on t.account_id = s.account_id and t.usage_day = s.usage_day and t.model = s.model and t.key_id = s.key_id"
            + " when matched then update set"
            + " requests = t.requests + s.requests,"
            + " rejected_requests = t.rejected_requests + s.rejected_requests,"
            + " prompt_tokens = t.prompt_tokens + s.prompt_tokens,"
            + " completion_tokens = t.completion_tokens + s.completion_tokens,"
            + " updated_at = s.updated_at"
            + " when not matched then insert (" + COLUMNS + ") values (s.account_id, s.key_id, s.model, s.usage_day,"
            + " s.requests, s.rejected_requests, s.prompt_tokens, s.completion_tokens, s.updated_at)";

    private final JdbcTemplate jdbc;
    private final TransactionTemplate tx;
    private volatile String upsertSql;

    public UsageRepository(JdbcTemplate jdbc, TransactionTemplate tx) {
        this.jdbc = jdbc;
        this.tx = tx;
    }

    /** Adds every row's counts to the table in one transaction: all of them, or (on an exception) none. */
    public void add(List<Map.Entry<UsageKey, UsageCounts>> rows, Instant now, int batchSize) {
        if (rows.isEmpty()) {
            return;
        }
        String sql = upsertSql();
        OffsetDateTime at = now.atOffset(ZoneOffset.UTC);
        tx.executeWithoutResult(status -> {
            for (int from = 0; from < rows.size(); from += batchSize) {
                List<Map.Entry<UsageKey, UsageCounts>> chunk = rows.subList(from, Math.min(rows.size(), from + batchSize));
                jdbc.batchUpdate(sql, new BatchPreparedStatementSetter() {
                    @Override
                    public void setValues(PreparedStatement ps, int i) throws SQLException {
                        UsageKey k = chunk.get(i).getKey();
                        UsageCounts c = chunk.get(i).getValue();
                        ps.setString(1, k.accountId());
                        ps.setString(2, k.keyId());
                        ps.setString(3, k.model());
                        ps.setObject(4, k.day());
                        ps.setLong(5, c.requests());
                        ps.setLong(6, c.rejectedRequests());
                        ps.setLong(7, c.promptTokens());
                        ps.setLong(8, c.completionTokens());
                        ps.setObject(9, at);
                    }

                    @Override
                    public int getBatchSize() {
                        return chunk.size();
                    }
                });
            }
        });
    }

    public record DayModelRow(LocalDate day, String model, UsageCounts counts) {
    }

    /** An account's totals per day and model (all its keys together), {@code from} and {@code to} inclusive. */
    public List<DayModelRow> totals(String accountId, LocalDate from, LocalDate to) {
        return jdbc.query("""
                select usage_day, model, sum(requests) as requests, sum(rejected_requests) as rejected_requests,
                       sum(prompt_tokens) as prompt_tokens, sum(completion_tokens) as completion_tokens
                from usage_records where account_id = ? and usage_day >= ? and usage_day <= ?
                group by usage_day, model order by usage_day, model""",
                (rs, n) -> new DayModelRow(rs.getObject("usage_day", LocalDate.class), rs.getString("model"),
                        new UsageCounts(rs.getLong("requests"), rs.getLong("rejected_requests"),
                                rs.getLong("prompt_tokens"), rs.getLong("completion_tokens"))),
                accountId, from, to);
    }

    private String upsertSql() {
        String sql = upsertSql;
        if (sql == null) {
            String product = jdbc.execute((ConnectionCallback<String>) c -> c.getMetaData().getDatabaseProductName());
            sql = product != null && product.toLowerCase(Locale.ROOT).contains("postgres") ? POSTGRES_UPSERT : STANDARD_MERGE;
            upsertSql = sql;
        }
        return sql;
    }
}
