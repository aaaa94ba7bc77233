package io.usageguard.ratelimit;

/** Whose usage a limit counts. */
public enum Scope {
    /** All keys of one account together, per model. */
    ACCOUNT("account"),
    /** One key, per model (the optional per-key cap). */
    KEY("key"),
    /** Every caller together, per model (the backend's ceiling). */
    GLOBAL("global");

    private final String label;

    Scope(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }
}
