package io.usageguard.registry;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import io.usageguard.account.Account;
import io.usageguard.account.AccountLookup;
import io.usageguard.account.AccountStatus;
import io.usageguard.core.Cidr;
import io.usageguard.identity.ApiKey;
import io.usageguard.identity.KeyLookup;
import io.usageguard.identity.KeyStatus;
import io.usageguard.verification.VerificationLevel;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/**
 * All SQL of the registry, portable between H2 and PostgreSQL. Blocking: called from the cache
 * loader threads and from the admin API on bounded-elastic threads, never on the event loop.
 */
@Repository
public class RegistryRepository implements KeyLookup, AccountLookup {

    private static final String KEY_COLUMNS =
            "id, account_id, name, key_hash, prefix, status, status_reason, expires_at, allowed_cidrs, sharing_exempt, created_at";

    private final JdbcClient jdbc;

    public RegistryRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    // ---- accounts ---------------------------------------------------------------------------

    @Override
    public Optional<Account> findAccount(String accountId) {
        return jdbc.sql("select * from accounts where id = ?").param(accountId)
                .query(RegistryRepository::account).optional();
    }

    public void insertAccount(Account a) {
        jdbc.sql("""
                insert into accounts (id, tier, verification, reverification_required, reverification_reason, minor,
                                      status, status_reason, suspended_until, created_at, updated_at)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""")
                .params(a.id(), a.tier(), a.verification().name(), a.reverificationRequired(), a.reverificationReason(),
                        a.minor(), a.status().name(), a.statusReason(), ts(a.suspendedUntil()), ts(a.createdAt()),
                        ts(a.updatedAt()))
                .update();
    }

    public void updateAccount(Account a) {
        jdbc.sql("""
                update accounts set tier = ?, verification = ?, reverification_required = ?, reverification_reason = ?,
                       minor = ?, status = ?, status_reason = ?, suspended_until = ?, updated_at = ?
                where id = ?""")
                .params(a.tier(), a.verification().name(), a.reverificationRequired(), a.reverificationReason(),
                        a.minor(), a.status().name(), a.statusReason(), ts(a.suspendedUntil()), ts(a.updatedAt()),
                        a.id())
                .update();
    }

    // ---- keys -------------------------------------------------------------------------------

    @Override
    public Optional<ApiKey> findByHash(String sha256Hex) {
        return jdbc.sql("select " + KEY_COLUMNS + " from api_keys where key_hash = ?").param(sha256Hex)
                .query(RegistryRepository::key).optional();
    }

    public Optional<KeyRecord> findKey(String keyId) {
        return jdbc.sql("select " + KEY_COLUMNS + " from api_keys where id = ?").param(keyId)
                .query((rs, n) -> new KeyRecord(key(rs, n), rs.getString("key_hash").trim())).optional();
    }

    public List<ApiKey> keysOf(String accountId) {
        return jdbc.sql("select " + KEY_COLUMNS + " from api_keys where account_id = ? order by created_at, id")
                .param(accountId).query(RegistryRepository::key).list();
    }

    public void insertKey(ApiKey k, String hash) {
        jdbc.sql("""
                insert into api_keys (id, account_id, name, key_hash, prefix, status, status_reason, expires_at,
                                      allowed_cidrs, sharing_exempt, created_at, updated_at)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""")
                .params(k.id(), k.accountId(), k.name(), hash, k.prefix(), k.status().name(), k.statusReason(),
                        ts(k.expiresAt()), cidrs(k.allowedCidrs()), k.sharingExempt(), ts(k.createdAt()),
                        ts(k.createdAt()))
                .update();
    }

    public void updateKeyStatus(String keyId, KeyStatus status, String reason, Instant now) {
        jdbc.sql("update api_keys set status = ?, status_reason = ?, updated_at = ? where id = ?")
                .params(status.name(), reason, ts(now), keyId).update();
    }

    public void updateKeySettings(String keyId, List<Cidr> allowedCidrs, boolean sharingExempt, Instant now) {
        jdbc.sql("update api_keys set allowed_cidrs = ?, sharing_exempt = ?, updated_at = ? where id = ?")
                .params(cidrs(allowedCidrs), sharingExempt, ts(now), keyId).update();
    }

    // ---- key sharing (per-key thresholds, V2_4) ------------------------------------------------

    public Optional<KeySharingSettings> findKeySharing(String keyId) {
        return jdbc.sql("select id, key_hash, sharing_warn_networks, sharing_block_networks from api_keys where id = ?")
                .param(keyId)
                .query((rs, n) -> new KeySharingSettings(rs.getString("id"), rs.getString("key_hash").trim(),
                        rs.getObject("sharing_warn_networks", Integer.class),
                        rs.getObject("sharing_block_networks", Integer.class)))
                .optional();
    }

    public void updateKeySharing(String keyId, boolean exempt, Integer warnNetworks, Integer blockNetworks,
                                 Instant now) {
        jdbc.sql("""
                update api_keys set sharing_exempt = ?, sharing_warn_networks = ?, sharing_block_networks = ?,
                       updated_at = ? where id = ?""")
                .params(exempt, warnNetworks, blockNetworks, ts(now), keyId).update();
    }

    // ---- audit trail ------------------------------------------------------------------------

    public void recordEvent(String accountId, String keyId, String action, String actor, String reason, Instant at) {
        jdbc.sql("""
                insert into enforcement_events (account_id, key_id, action, actor, reason, occurred_at)
                values (?, ?, ?, ?, ?, ?)""")
                .params(accountId, keyId, action, actor, reason, ts(at)).update();
    }

    public List<EnforcementEvent> eventsOf(String accountId, int limit) {
        return jdbc.sql("""
                select id, account_id, key_id, action, actor, reason, occurred_at from enforcement_events
                where account_id = ? order by occurred_at desc, id desc""")
                .param(accountId)
                .query((rs, n) -> new EnforcementEvent(rs.getLong("id"), rs.getString("account_id"),
                        rs.getString("key_id"), rs.getString("action"), rs.getString("actor"),
                        rs.getString("reason"), instant(rs, "occurred_at")))
                .list().stream().limit(limit).toList();
    }


    // ---- mapping ----------------------------------------------------------------------------

    private static Account account(ResultSet rs, int n) throws SQLException {
        return new Account(rs.getString("id"), rs.getString("tier"),
                VerificationLevel.valueOf(rs.getString("verification")),
                rs.getBoolean("reverification_required"), rs.getString("reverification_reason"),
                rs.getBoolean("minor"), AccountStatus.valueOf(rs.getString("status")),
                rs.getString("status_reason"), instant(rs, "suspended_until"),
                instant(rs, "created_at"), instant(rs, "updated_at"));
    }

    private static ApiKey key(ResultSet rs, int n) throws SQLException {
        String cidrs = rs.getString("allowed_cidrs");
        List<Cidr> allowed = cidrs == null || cidrs.isBlank() ? List.of()
                : Cidr.parseAll(Arrays.asList(cidrs.split(",")));
        return new ApiKey(rs.getString("id"), rs.getString("account_id"), rs.getString("name"),
                rs.getString("prefix"), KeyStatus.valueOf(rs.getString("status")), rs.getString("status_reason"),
                instant(rs, "expires_at"), allowed, rs.getBoolean("sharing_exempt"), instant(rs, "created_at"));
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    private static OffsetDateTime ts(Instant i) {
        return i == null ? null : i.atOffset(ZoneOffset.UTC);
    }

    private static String cidrs(List<Cidr> cidrs) {
        if (cidrs == null || cidrs.isEmpty()) {
            return null;
        }
        return String.join(",", cidrs.stream().map(Cidr::toString).toList());
    }
}
