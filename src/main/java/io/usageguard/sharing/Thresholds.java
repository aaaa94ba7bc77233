package io.usageguard.sharing;

/** A key's effective thresholds: its own override where the operator set one, else the configured ones. */
record Thresholds(int warnNetworks, int blockNetworks, boolean overridden) {
}
