package io.usageguard.account;

import java.time.Instant;

import io.usageguard.verification.VerificationLevel;

/** An account as the hot path and the admin API see it. */
public record Account(
        String id,
        String tier,
        VerificationLevel verification,
        boolean reverificationRequired,
        String reverificationReason,
        boolean minor,
        AccountStatus status,
        String statusReason,
        Instant suspendedUntil,
        Instant createdAt,
        Instant updatedAt) {

    /** A timed suspension lifts by itself at its end; nothing needs to run for that. */
    public AccountStatus statusAt(Instant now) {
        if (status == AccountStatus.SUSPENDED && suspendedUntil != null && !now.isBefore(suspendedUntil)) {
            return AccountStatus.ACTIVE;
        }
        return status;
    }
}
