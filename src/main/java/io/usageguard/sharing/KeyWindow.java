package io.usageguard.sharing;

/**
 * What one replica knows about one key: the distinct networks and User-Agent families of its recent
 * requests, and where the key stands against its thresholds. Guarded by its own monitor.
 */
final class KeyWindow {

    enum Level {
        NONE, WARN, BLOCK
    }

    final DistinctWindow networks;
    final DistinctWindow agents;

    /** From the latest evaluation: drives the throttle factor. */
    Level level = Level.NONE;
    int lastNetworks;
    int lastAgents;
    /** When this replica last raised each event (millis): one event per crossing and window. */
    long warnEventAt = Long.MIN_VALUE / 2;
    long blockEventAt = Long.MIN_VALUE / 2;
    long warnedAt = -1;
    long crossedAt = -1;
    String actionTaken;
    /** This replica suspended the key and refuses it until the registry's answer reaches the key cache. */
    boolean suspendedHere;

    /** Redis mode: the shared counts last read, and when. */
    long remoteCountedAt = Long.MIN_VALUE / 2;
    boolean recountInFlight;

    KeyWindow(SharingProperties p) {
        this.networks = new DistinctWindow(p.subWindows(), p.exactCap(), p.sketchLgK());
        this.agents = new DistinctWindow(p.subWindows(), p.exactCap(), p.sketchLgK());
    }
}
