package io.usageguard.registry;

import java.time.Instant;

/** One line of the enforcement audit trail. {@code actor} is {@code admin} or {@code gateway}. */
public record EnforcementEvent(
        long id,
        String accountId,
        String keyId,
        String action,
        String actor,
        String reason,
        Instant occurredAt) {
}
