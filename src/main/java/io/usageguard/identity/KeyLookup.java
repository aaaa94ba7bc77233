package io.usageguard.identity;

import java.util.Optional;

/** Where keys are stored (the registry). Blocking; only ever called off the event loop by {@link KeyCache}. */
public interface KeyLookup {

    Optional<ApiKey> findByHash(String sha256Hex);
}
