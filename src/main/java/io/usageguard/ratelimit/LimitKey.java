package io.usageguard.ratelimit;

/**
 * What one scope of limits counts for: the model glob, and the account (and the API key) for the
 * account (key) scope. Compared by its parts, which are long-lived strings whose hashes the JVM
 * keeps, so a request finds its buckets and counters without building a name: the local store
 * keys its entries with these (40 bytes instead of a name string, and no per-key memo of names).
 * The Redis names are built only when asked for ({@link #toString}, {@link #bucket},
 * {@link #concurrency}): {@code <prefix>{<account>}:<glob>[:k:<key id>]} and {@code <prefix>{m:<glob>}},
 * the hash tag keeping an account's buckets (or a model's global ones) in one cluster slot.
 */
final class LimitKey {

    private final String prefix;
    private final Scope scope;
    private final String accountId;
    private final String glob;
    private final String keyId;
    private final int hash;

    private LimitKey(String prefix, Scope scope, String accountId, String glob, String keyId) {
        this.prefix = prefix;
        this.scope = scope;
        this.accountId = accountId;
        this.glob = glob;
        this.keyId = keyId;
        int h = 31 * scope.ordinal() + glob.hashCode();
        if (accountId != null) {
            h = 31 * h + accountId.hashCode();
        }
        if (keyId != null) {
            h = 31 * h + keyId.hashCode();
        }
        this.hash = h;
    }

    static LimitKey account(String prefix, String accountId, String glob) {
        return new LimitKey(prefix, Scope.ACCOUNT, accountId, glob, null);
    }

    static LimitKey key(String prefix, String accountId, String glob, String keyId) {
        return new LimitKey(prefix, Scope.KEY, accountId, glob, keyId);
    }

    static LimitKey global(String prefix, String glob) {
        return new LimitKey(prefix, Scope.GLOBAL, null, glob, null);
    }

    Scope scope() {
        return scope;
    }

    /** The Redis name of this scope's bucket of {@code unit}. */
    String bucket(Window.Unit unit) {
        return this + ":" + unit.suffix;
    }

    /** The Redis name of this scope's concurrency counter. */
    String concurrency() {
        return this + ":conc";
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        return o instanceof LimitKey k && hash == k.hash && scope == k.scope && glob.equals(k.glob)
                && java.util.Objects.equals(accountId, k.accountId) && java.util.Objects.equals(keyId, k.keyId);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    /** The scope's Redis name (without a unit suffix). */
    @Override
    public String toString() {
        String g = tag(glob);
        return switch (scope) {
            case GLOBAL -> prefix + "{m:" + g + "}";
            case ACCOUNT -> prefix + "{" + tag(accountId) + "}:" + g;
            case KEY -> prefix + "{" + tag(accountId) + "}:" + g + ":k:" + tag(keyId);
        };
    }

    /** Braces would change the Redis hash tag, so they (and the escape character) are percent-encoded. */
    static String tag(String s) {
        if (s.indexOf('{') < 0 && s.indexOf('}') < 0 && s.indexOf('%') < 0) {
            return s;
        }
        return s.replace("%", "%25").replace("{", "%7B").replace("}", "%7D");
    }
}
