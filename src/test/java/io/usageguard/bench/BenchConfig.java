package io.usageguard.bench;

import io.usageguard.testsupport.GatewayInstance;

/** Settings shared by the benchmarks: limits high enough never to refuse, every restriction on. */
final class BenchConfig {

    private BenchConfig() {
    }

    static GatewayInstance.Builder generousLimits(GatewayInstance.Builder b) {
        return b.property("usage-guard.tiers.L1.rpm", 1_000_000_000L)
                .property("usage-guard.tiers.L1.tpm", 10_000_000_000L)
                .property("usage-guard.tiers.L1.concurrency", 100_000)
                .property("usage-guard.auth-failures.max", 1_000_000);
    }
}
