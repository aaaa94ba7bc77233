package io.usageguard.admin;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import io.usageguard.account.Account;
import io.usageguard.account.AccountStatus;
import io.usageguard.core.Cidr;
import io.usageguard.identity.ApiKey;
import io.usageguard.identity.ApiKeyFormat;
import io.usageguard.identity.KeyStatus;
import io.usageguard.propagation.ChangeBus;
import io.usageguard.propagation.RegistryChange;
import io.usageguard.registry.EnforcementEvent;
import io.usageguard.registry.KeyRecord;
import io.usageguard.registry.RegistryRepository;
import io.usageguard.verification.VerificationLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Every operator action: the change and its audit event commit in one transaction, then every
 * replica's caches are told (this one at once, the others through the {@link ChangeBus}).
 * Blocking; the admin endpoints call it on bounded-elastic threads.
 */
@Service
public class AdminService {

    public static final String ACTOR_ADMIN = "admin";
    public static final String ACTOR_GATEWAY = "gateway";

    private static final Logger log = LoggerFactory.getLogger(AdminService.class);
    private static final Pattern ACCOUNT_ID = Pattern.compile("[A-Za-z0-9._:@-]{1,128}");
    private static final Pattern TIER = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final int MAX_REASON = 1000;

    private final RegistryRepository registry;
    private final TransactionTemplate tx;
    private final ChangeBus changes;
    private final Clock clock;
    private final ObjectProvider<KeySignals> signals;

    public AdminService(RegistryRepository registry, TransactionTemplate tx, ChangeBus changes, Clock clock,
                        ObjectProvider<KeySignals> signals) {
        this.registry = registry;
        this.tx = tx;
        this.changes = changes;
        this.clock = clock;
        this.signals = signals;
    }

    // ---- accounts ---------------------------------------------------------------------------

    public record AccountUpdate(String tier, String verification, Boolean minor, Boolean reverificationRequired,
                                String reason) {
    }

    public AdminViews.AccountView putAccount(String accountId, AccountUpdate update) {
        requireAccountId(accountId);
        if (update == null) {
            throw AdminException.badRequest("A JSON body is required.");
        }
        String tier = update.tier();
        if (tier != null && !TIER.matcher(tier).matches()) {
            throw AdminException.badRequest("tier must be 1–64 of [A-Za-z0-9_-].");
        }
        VerificationLevel level = update.verification() == null ? null : parseLevel(update.verification());
        String reason = reason(update.reason(), false);
        Instant now = clock.instant();
        inTx(() -> {
            Account before = registry.findAccount(accountId).orElse(null);
            if (before == null) {
                if (tier == null || level == null) {
                    throw AdminException.badRequest("A new account needs a tier and a verification level.");
                }
                boolean reverify = Boolean.TRUE.equals(update.reverificationRequired());
                registry.insertAccount(new Account(accountId, tier, level, reverify, null,
                        Boolean.TRUE.equals(update.minor()), AccountStatus.ACTIVE, null, null, now, now));
                registry.recordEvent(accountId, null, "account_created", ACTOR_ADMIN,
                        withDetail(reason, "tier " + tier + ", verification " + level
                                + (Boolean.TRUE.equals(update.minor()) ? ", minor" : "")), now);
                return null;
            }
            Account after = new Account(accountId, tier == null ? before.tier() : tier,
                    level == null ? before.verification() : level,
                    update.reverificationRequired() == null ? before.reverificationRequired()
                            : update.reverificationRequired(),
                    update.reverificationRequired() == null ? before.reverificationReason()
                            : (update.reverificationRequired() ? before.reverificationReason() : null),
                    update.minor() == null ? before.minor() : update.minor(),
                    before.status(), before.statusReason(), before.suspendedUntil(), before.createdAt(), now);
            registry.updateAccount(after);
            List<String> details = new ArrayList<>();
            if (!after.tier().equals(before.tier())) {
                details.add("tier " + before.tier() + " -> " + after.tier());
            }
            if (after.minor() != before.minor()) {
                details.add("minor " + before.minor() + " -> " + after.minor());
            }
            if (!details.isEmpty()) {
                registry.recordEvent(accountId, null, "account_updated", ACTOR_ADMIN,
                        withDetail(reason, String.join(", ", details)), now);
            }
            if (after.verification() != before.verification()) {
                registry.recordEvent(accountId, null, "verification_changed", ACTOR_ADMIN,
                        withDetail(reason, "verification " + before.verification() + " -> " + after.verification()),
                        now);
            }
            if (after.reverificationRequired() != before.reverificationRequired()) {
                registry.recordEvent(accountId, null,
                        after.reverificationRequired() ? "reverification_required" : "reverification_completed",
                        ACTOR_ADMIN, reason, now);
            }
            return null;
        });
        changes.publish(RegistryChange.account(accountId));
        return getAccount(accountId);
    }

    public AdminViews.AccountView getAccount(String accountId) {
        Account a = account(accountId);
        Instant now = clock.instant();
        List<AdminViews.KeyView> keys = registry.keysOf(accountId).stream()
                .map(k -> AdminViews.KeyView.of(k, now, null)).toList();
        return AdminViews.AccountView.of(a, now, keys);
    }

    public AdminViews.AccountView suspend(String accountId, String reason, Instant until) {
        String why = reason(reason, true);
        Instant now = clock.instant();
        if (until != null && !until.isAfter(now)) {
            throw AdminException.badRequest("until must be in the future.");
        }
        changeStatus(accountId, AccountStatus.SUSPENDED, why, until, "account_suspended",
                until == null ? why : why + " (until " + until + ")");
        return getAccount(accountId);
    }

    public AdminViews.AccountView reinstate(String accountId, String reason) {
        changeStatus(accountId, AccountStatus.ACTIVE, null, null, "account_reinstated", reason(reason, false));
        return getAccount(accountId);
    }

    public AdminViews.AccountView terminate(String accountId, String reason) {
        String why = reason(reason, true);
        changeStatus(accountId, AccountStatus.TERMINATED, why, null, "account_terminated", why);
        return getAccount(accountId);
    }

    public AdminViews.AccountView requireReverification(String accountId, String reason) {
        String why = reason(reason, true);
        Instant now = clock.instant();
        inTx(() -> {
            Account a = account(accountId);
            registry.updateAccount(new Account(a.id(), a.tier(), a.verification(), true, why, a.minor(), a.status(),
                    a.statusReason(), a.suspendedUntil(), a.createdAt(), now));
            registry.recordEvent(accountId, null, "reverification_required", ACTOR_ADMIN, why, now);
            return null;
        });
        changes.publish(RegistryChange.account(accountId));
        return getAccount(accountId);
    }

    private void changeStatus(String accountId, AccountStatus status, String statusReason, Instant until,
                              String action, String eventReason) {
        Instant now = clock.instant();
        inTx(() -> {
            Account a = account(accountId);
            if (a.status() == AccountStatus.TERMINATED) {
                throw AdminException.conflict("The account is terminated; termination is final.");
            }
            registry.updateAccount(new Account(a.id(), a.tier(), a.verification(), a.reverificationRequired(),
                    a.reverificationReason(), a.minor(), status, statusReason, until, a.createdAt(), now));
            registry.recordEvent(accountId, null, action, ACTOR_ADMIN, eventReason, now);
            return null;
        });
        changes.publish(RegistryChange.account(accountId));
    }

    public List<AdminViews.EventView> events(String accountId, int limit) {
        account(accountId);
        return registry.eventsOf(accountId, limit).stream()
                .map(e -> new AdminViews.EventView(e.occurredAt(), e.action(), e.actor(), e.reason(), e.keyId()))
                .toList();
    }

    // ---- keys -------------------------------------------------------------------------------

    public record KeyRequest(String name, Instant expiresAt, List<String> allowedCidrs, Boolean sharingExempt,
                             String key) {
    }

    public AdminViews.IssuedKey createKey(String accountId, KeyRequest request) {
        KeyRequest r = request == null ? new KeyRequest(null, null, null, null, null) : request;
        String secret = ApiKeyFormat.generate();
        ApiKey key = newKey(accountId, r, ApiKeyFormat.displayPrefix(secret));
        String hash = ApiKeyFormat.hash(secret);
        insertKey(key, hash, "key_created");
        return new AdminViews.IssuedKey(key.id(), secret, key.prefix(), accountId, key.expiresAt());
    }

    /** A key from an older system (any printable ASCII, 20–200 characters), recognised by its hash. */
    public AdminViews.KeyView importKey(String accountId, KeyRequest request) {
        if (request == null || request.key() == null
                || ApiKeyFormat.classify(request.key()) == ApiKeyFormat.Shape.MALFORMED) {
            throw AdminException.badRequest("key must be 20–200 printable ASCII characters"
                    + " (or a key of this gateway's own format with a valid checksum).");
        }
        ApiKey key = newKey(accountId, request, ApiKeyFormat.displayPrefix(request.key()));
        insertKey(key, ApiKeyFormat.hash(request.key()), "key_imported");
        return AdminViews.KeyView.of(key, clock.instant(), null);
    }

    private ApiKey newKey(String accountId, KeyRequest r, String prefix) {
        List<Cidr> cidrs;
        try {
            cidrs = Cidr.parseAll(r.allowedCidrs());
        } catch (IllegalArgumentException e) {
            throw AdminException.badRequest("allowedCidrs: " + e.getMessage());
        }
        String name = r.name() == null ? null : r.name().strip();
        if (name != null && name.length() > 200) {
            throw AdminException.badRequest("name is longer than 200 characters.");
        }
        Instant now = clock.instant();
        if (r.expiresAt() != null && !r.expiresAt().isAfter(now)) {
            throw AdminException.badRequest("expiresAt must be in the future.");
        }
        return new ApiKey(ApiKeyFormat.newId("key"), accountId, name, prefix, KeyStatus.ACTIVE, null,
                r.expiresAt(), cidrs, Boolean.TRUE.equals(r.sharingExempt()), now);
    }

    private void insertKey(ApiKey key, String hash, String action) {
        inTx(() -> {
            Account a = account(key.accountId());
            if (a.status() == AccountStatus.TERMINATED) {
                throw AdminException.conflict("The account is terminated; it cannot get new keys.");
            }
            if (registry.findByHash(hash).isPresent()) {
                throw AdminException.conflict("This key is already registered.");
            }
            registry.insertKey(key, hash);
            registry.recordEvent(key.accountId(), key.id(), action, ACTOR_ADMIN,
                    key.name() == null ? null : "name: " + key.name(), key.createdAt());
            return null;
        });
        changes.publish(RegistryChange.key(hash)); // drops a cached "no such key"
        log.info("key {} ({}) {} for account {}", key.id(), key.prefix(), action, key.accountId());
    }

    public AdminViews.KeyView getKey(String keyId) {
        KeyRecord r = key(keyId);
        KeySignals s = signals.getIfAvailable();
        Map<String, Object> sharing = s == null ? null : s.describe(keyId);
        return AdminViews.KeyView.of(r.key(), clock.instant(), sharing);
    }

    public AdminViews.KeyView revokeKey(String keyId, String reason) {
        return changeKeyStatus(keyId, KeyStatus.REVOKED, reason(reason, false), "key_revoked", ACTOR_ADMIN);
    }

    public AdminViews.KeyView suspendKey(String keyId, String reason) {
        return changeKeyStatus(keyId, KeyStatus.SUSPENDED, reason(reason, true), "key_suspended", ACTOR_ADMIN);
    }

    public AdminViews.KeyView reinstateKey(String keyId, String reason) {
        changeKeyStatus(keyId, KeyStatus.ACTIVE, reason(reason, false), "key_reinstated", ACTOR_ADMIN);
        KeySignals s = signals.getIfAvailable();
        if (s != null) {
            s.clear(keyId);
        }
        return getKey(keyId);
    }

    /** {@code PUT /admin/keys/{keyId}/sharing}: null thresholds mean the configured ones. */
    public record KeySharingUpdate(Boolean exempt, Integer warnNetworks, Integer blockNetworks, String reason) {
    }

    /** Key sharing: allowlist a key (a customer's fleet) or give it its own thresholds. Replaces all three. */
    public AdminViews.KeyView updateKeySharing(String keyId, KeySharingUpdate update) {
        if (update == null) {
            throw AdminException.badRequest("A JSON body is required.");
        }
        Integer warn = update.warnNetworks();
        Integer block = update.blockNetworks();
        if ((warn != null && (warn < 1 || warn > 1_000_000)) || (block != null && (block < 1 || block > 1_000_000))) {
            throw AdminException.badRequest("warnNetworks and blockNetworks are 1–1000000, or null for the configured value.");
        }
        if (warn != null && block != null && warn > block) {
            throw AdminException.badRequest("warnNetworks must not be above blockNetworks.");
        }
        boolean exempt = Boolean.TRUE.equals(update.exempt());
        String why = reason(update.reason(), false);
        Instant now = clock.instant();
        KeyRecord r = inTx(() -> {
            KeyRecord k = key(keyId);
            registry.updateKeySharing(keyId, exempt, warn, block, now);
            registry.recordEvent(k.key().accountId(), keyId, "key_sharing_settings", ACTOR_ADMIN,
                    withDetail(why, "exempt " + exempt + ", warn-networks " + (warn == null ? "default" : warn)
                            + ", block-networks " + (block == null ? "default" : block)), now);
            return k;
        });
        changes.publish(RegistryChange.key(r.hash()));
        return getKey(keyId);
    }

    /** Also used by the gateway itself (actor {@code gateway}), e.g. to suspend a key suspected of transfer. */
    public AdminViews.KeyView changeKeyStatus(String keyId, KeyStatus status, String reason, String action,
                                              String actor) {
        Instant now = clock.instant();
        KeyRecord r = inTx(() -> {
            KeyRecord k = key(keyId);
            if (k.key().status() == KeyStatus.REVOKED && status != KeyStatus.REVOKED) {
                throw AdminException.conflict("The key is revoked; revocation is final.");
            }
            registry.updateKeyStatus(keyId, status, status == KeyStatus.ACTIVE ? null : reason, now);
            registry.recordEvent(k.key().accountId(), keyId, action, actor, reason, now);
            return k;
        });
        changes.publish(RegistryChange.key(r.hash()));
        return getKey(keyId);
    }

    // ---- helpers ----------------------------------------------------------------------------

    private Account account(String accountId) {
        requireAccountId(accountId);
        return registry.findAccount(accountId)
                .orElseThrow(() -> AdminException.notFound("No account " + accountId + "."));
    }

    private KeyRecord key(String keyId) {
        if (keyId == null || keyId.length() > 64) {
            throw AdminException.notFound("No such key.");
        }
        return registry.findKey(keyId).orElseThrow(() -> AdminException.notFound("No key " + keyId + "."));
    }

    private static void requireAccountId(String accountId) {
        if (accountId == null || !ACCOUNT_ID.matcher(accountId).matches()) {
            throw AdminException.badRequest("account ids are 1–128 of [A-Za-z0-9._:@-].");
        }
    }

    private static VerificationLevel parseLevel(String s) {
        try {
            return VerificationLevel.valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw AdminException.badRequest("verification must be NONE, INDIVIDUAL or ENTERPRISE.");
        }
    }

    private static String reason(String reason, boolean required) {
        if (reason == null || reason.isBlank()) {
            if (required) {
                throw AdminException.badRequest("A reason is required.");
            }
            return null;
        }
        String r = reason.strip();
        if (r.length() > MAX_REASON) {
            throw AdminException.badRequest("reason is longer than " + MAX_REASON + " characters.");
        }
        return r;
    }

    private static String withDetail(String reason, String detail) {
        return reason == null ? detail : reason + " (" + detail + ")";
    }

    private <T> T inTx(Supplier<T> work) {
        return tx.execute(status -> work.get());
    }
}
