package io.usageguard.ratelimit;

import io.usageguard.identity.ApiKey;

/**
 * Lets another restriction tighten a key's limits, e.g. key sharing's {@code throttle} action.
 * The rate limiter multiplies the key's limits by {@link #keyFactor} (1.0 = unchanged). Optional:
 * when no bean implements it, nothing is adjusted.
 */
public interface LimitAdjustments {

    double keyFactor(ApiKey key);
}
