package io.usageguard.metering;

import java.time.LocalDate;

/** One usage row: an account's key using a model on a UTC day. */
public record UsageKey(String accountId, String keyId, String model, LocalDate day) implements Comparable<UsageKey> {

    /** Rows are written in this order, so that replicas upserting the same rows lock them in the same order. */
    @Override
    public int compareTo(UsageKey o) {
        int c = accountId.compareTo(o.accountId);
        if (c == 0) {
            c = day.compareTo(o.day);
        }
        if (c == 0) {
            c = model.compareTo(o.model);
        }
        if (c == 0) {
            c = keyId.compareTo(o.keyId);
        }
        return c;
    }
}
