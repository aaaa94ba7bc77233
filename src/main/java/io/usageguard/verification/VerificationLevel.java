package io.usageguard.verification;

/** Real-name verification levels (agreement §1.4), ordered: each level includes those before it. */
public enum VerificationLevel {
    NONE, INDIVIDUAL, ENTERPRISE;

    public boolean satisfies(VerificationLevel required) {
        return compareTo(required) >= 0;
    }
}
