package io.usageguard.admin;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import io.usageguard.account.Account;
import io.usageguard.identity.ApiKey;

/** What the admin API answers. No view ever carries a key's secret or hash. */
public final class AdminViews {

    private AdminViews() {
    }

    public record AccountView(
            String accountId,
            String status,
            String statusReason,
            Instant suspendedUntil,
            String tier,
            String verification,
            boolean reverificationRequired,
            String reverificationReason,
            boolean minor,
            Instant createdAt,
            Instant updatedAt,
            List<KeyView> keys) {

        static AccountView of(Account a, Instant now, List<KeyView> keys) {
            String status = a.statusAt(now).name();
            boolean lifted = !status.equals(a.status().name());
            return new AccountView(a.id(), status, lifted ? null : a.statusReason(),
                    lifted ? null : a.suspendedUntil(), a.tier(), a.verification().name(),
                    a.reverificationRequired(), a.reverificationReason(), a.minor(), a.createdAt(), a.updatedAt(), keys);
        }
    }

    public record KeyView(
            String keyId,
            String accountId,
            String name,
            String prefix,
            String status,
            String statusReason,
            Instant expiresAt,
            boolean expired,
            List<String> allowedCidrs,
            boolean sharingExempt,
            Instant createdAt,
            Map<String, Object> sharing) {

        static KeyView of(ApiKey k, Instant now, Map<String, Object> sharing) {
            return new KeyView(k.id(), k.accountId(), k.name(), k.prefix(), k.status().name(), k.statusReason(),
                    k.expiresAt(), k.expiredAt(now), k.allowedCidrs().stream().map(Object::toString).toList(),
                    k.sharingExempt(), k.createdAt(), sharing);
        }
    }

    /** The answer to key creation: the only time the plaintext key is shown. */
    public record IssuedKey(String keyId, String key, String prefix, String accountId, Instant expiresAt) {
    }

    public record EventView(Instant time, String action, String actor, String reason, String keyId) {
    }
}
