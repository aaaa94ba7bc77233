package io.usageguard.propagation;

/**
 * Something in the registry changed: an account (by id), a key (by the hash it is cached under),
 * or everything (after a lost connection, when messages may have been missed).
 */
public record RegistryChange(Kind kind, String id) {

    public enum Kind {
        ACCOUNT, KEY, ALL
    }

    public static RegistryChange account(String accountId) {
        return new RegistryChange(Kind.ACCOUNT, accountId);
    }

    public static RegistryChange key(String keyHash) {
        return new RegistryChange(Kind.KEY, keyHash);
    }

    public static RegistryChange all() {
        return new RegistryChange(Kind.ALL, "*");
    }

    String encode() {
        return kind.name() + ':' + id;
    }

    static RegistryChange decode(String message) {
        int colon = message.indexOf(':');
        if (colon < 0) {
            return all();
        }
        try {
            return new RegistryChange(Kind.valueOf(message.substring(0, colon)), message.substring(colon + 1));
        } catch (IllegalArgumentException e) {
            return all();
        }
    }
}
