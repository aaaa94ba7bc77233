package io.usageguard.registry;

import io.usageguard.identity.ApiKey;

/** A key row as the admin side sees it: the hot-path view plus the hash it is cached under. */
public record KeyRecord(ApiKey key, String hash) {
}
