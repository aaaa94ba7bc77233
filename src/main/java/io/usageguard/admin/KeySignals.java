package io.usageguard.admin;

import java.util.Map;

/**
 * What the admin API shows about how a key is being used (the key-sharing signals), and what it
 * clears when a key is reinstated. Provided by the key-sharing package; empty until then.
 */
public interface KeySignals {

    Map<String, Object> describe(String keyId);

    void clear(String keyId);
}
