package io.usageguard.sharing;

/**
 * What one replica knows about one key: the distinct networks and User-Agent families of its recent
 * requests (the state of two {@link DistinctWindow}s), and where the key stands against its
 * thresholds. Kept small, since there is one per tracked key: what only a key that crossed a
 * threshold needs is in {@link Crossings}, made at its first crossing. Guarded by its own monitor.
 */
final class KeyWindow implements DistinctWindow.Holder {

    static final int NETWORKS = 0;
    static final int AGENTS = 1;

    enum Level {
        NONE, WARN, BLOCK
    }

    private Object networks;
    private Object agents;

    /** From the latest evaluation: drives the throttle factor. */
    Level level = Level.NONE;
    /** This replica suspended the key and refuses it until the registry's answer reaches the key cache. */
    boolean suspendedHere;
    /** Redis mode: a background recount is running. */
    boolean recountInFlight;
    /** Redis mode: when the shared counts were last read. */
    long remoteCountedAt = Long.MIN_VALUE / 2;
    private Crossings crossings;

    /** The events of a key that crossed a threshold. */
    static final class Crossings {
        /** When this replica last raised each event (millis): one event per crossing and window. */
        long warnEventAt = Long.MIN_VALUE / 2;
        long blockEventAt = Long.MIN_VALUE / 2;
        long warnedAt = -1;
        long crossedAt = -1;
        String actionTaken;
    }

    /** The key's crossings, made at the first. */
    Crossings crossings() {
        Crossings c = crossings;
        if (c == null) {
            c = crossings = new Crossings();
        }
        return c;
    }

    /** The key's crossings, or null when it never crossed. */
    Crossings crossingsIfAny() {
        return crossings;
    }

    @Override
    public Object window(int which) {
        return which == NETWORKS ? networks : agents;
    }

    @Override
    public void window(int which, Object state) {
        if (which == NETWORKS) {
            networks = state;
        } else {
            agents = state;
        }
    }
}
