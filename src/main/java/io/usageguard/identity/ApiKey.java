package io.usageguard.identity;

import java.time.Instant;
import java.util.List;

import io.usageguard.core.Cidr;

/** A key as the hot path sees it: never the secret, only its id, display prefix and state. */
public record ApiKey(
        String id,
        String accountId,
        String name,
        String prefix,
        KeyStatus status,
        String statusReason,
        Instant expiresAt,
        List<Cidr> allowedCidrs,
        boolean sharingExempt,
        Instant createdAt) {

    public boolean expiredAt(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }
}
