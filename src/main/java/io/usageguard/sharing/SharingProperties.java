package io.usageguard.sharing;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code usage-guard.sharing.*}: detection of API keys used by more than one party (agreement
 * §2.2.3, no buying, selling or transferring keys). Bound once at startup.
 *
 * @param enabled          off: nothing is tracked, nothing is flagged
 * @param window           how far back distinct networks and agents are counted
 * @param subWindows       the window is made of this many sub-windows; activity ages out one sub-window at a time
 * @param ipv4Prefix       IPv4 addresses count by this network (24: 203.0.113.0/24)
 * @param ipv6Prefix       IPv6 addresses count by this network (48)
 * @param warnNetworks     more distinct networks than this in the window: a warning (log and metric)
 * @param blockNetworks    more distinct networks than this in the window: {@link #action}
 * @param action           what happens above {@code block-networks}
 * @param throttleFactor   under {@code throttle}: the key's limits are multiplied by this (0 &lt; f ≤ 1)
 * @param exactCap         distinct values per key and kind counted exactly; past this, a HyperLogLog sketch per sub-window
 * @param sketchLgK        log2 of the HLL sketch's registers (10: 1024 registers, about 3% error)
 * @param maxTrackedKeys   keys tracked in memory at once (least recently used dropped first)
 * @param recountInterval  redis mode: how often a replica re-reads the shared count of a key it serves, to see other replicas' networks
 */
@ConfigurationProperties("usage-guard.sharing")
public record SharingProperties(
        @DefaultValue("true") boolean enabled,
        @DefaultValue("1h") Duration window,
        @DefaultValue("12") int subWindows,
        @DefaultValue("24") int ipv4Prefix,
        @DefaultValue("48") int ipv6Prefix,
        @DefaultValue("8") int warnNetworks,
        @DefaultValue("20") int blockNetworks,
        @DefaultValue("observe") Action action,
        @DefaultValue("0.25") double throttleFactor,
        @DefaultValue("32") int exactCap,
        @DefaultValue("10") int sketchLgK,
        @DefaultValue("100000") long maxTrackedKeys,
        @DefaultValue("10s") Duration recountInterval) {

    public enum Action {
        OBSERVE, THROTTLE, SUSPEND;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public SharingProperties {
        if (window == null || window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("usage-guard.sharing.window must be positive");
        }
        if (subWindows < 1 || subWindows > 1440 || window.toMillis() / subWindows < 1) {
            throw new IllegalArgumentException("usage-guard.sharing.sub-windows must be 1–1440 and leave at least 1 ms each");
        }
        if (ipv4Prefix < 0 || ipv4Prefix > 32 || ipv6Prefix < 0 || ipv6Prefix > 128) {
            throw new IllegalArgumentException("usage-guard.sharing.ipv4-prefix is 0–32 and ipv6-prefix 0–128");
        }
        if (warnNetworks < 1 || blockNetworks < 1) {
            throw new IllegalArgumentException("usage-guard.sharing.warn-networks and block-networks must be at least 1");
        }
        if (!(throttleFactor > 0 && throttleFactor <= 1)) {
            throw new IllegalArgumentException("usage-guard.sharing.throttle-factor must be in (0, 1]");
        }
        if (exactCap < 1 || exactCap > 4096) {
            throw new IllegalArgumentException("usage-guard.sharing.exact-cap must be 1–4096");
        }
        if (sketchLgK < 4 || sketchLgK > 16) {
            throw new IllegalArgumentException("usage-guard.sharing.sketch-lg-k must be 4–16");
        }
        if (maxTrackedKeys < 1) {
            throw new IllegalArgumentException("usage-guard.sharing.max-tracked-keys must be positive");
        }
        if (recountInterval == null || recountInterval.isNegative()) {
            recountInterval = Duration.ofSeconds(10);
        }
    }

    public long subWindowMillis() {
        return window.toMillis() / subWindows;
    }
}
