package io.usageguard.registry;

/**
 * A key's key-sharing settings as the registry holds them: its own thresholds (null: the configured
 * ones), and the hash the key cache and change messages know it by.
 */
public record KeySharingSettings(String keyId, String keyHash, Integer warnNetworks, Integer blockNetworks) {
}
