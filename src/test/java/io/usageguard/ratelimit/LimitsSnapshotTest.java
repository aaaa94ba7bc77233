package io.usageguard.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** How tier, model and mode settings merge into the limits of one (tier, model) pair. */
class LimitsSnapshotTest {

    static LimitsSnapshot snapshot(Map<String, Object> props) {
        return LimitsSnapshot.bind(new Binder(new MapConfigurationPropertySource(props)), 1);
    }

    static BucketSpec spec(ResolvedLimits r, Scope scope, Window.Unit unit) {
        for (BucketSpec s : r.specs()) {
            if (s.scope() == scope && s.unit() == unit) {
                return s;
            }
        }
        return null;
    }

    @Test
    void modelOverridesTheTierFieldByFieldAndTheMostSpecificModeWins() {
        LimitsSnapshot s = snapshot(Map.of(
                "usage-guard.tiers.L1.rpm", 60, "usage-guard.tiers.L1.rpd", 1000, "usage-guard.tiers.L1.tpm", 5000,
                "usage-guard.tiers.L1.per-key.rpm", 10, "usage-guard.tiers.L1.mode", "shadow",
                "usage-guard.models.[big-*].tiers.L1.rpm", 6,
                "usage-guard.models.[big-*].limits-mode", "enforce",
                "usage-guard.models.[big-*].global.concurrency", 7));
        ResolvedLimits plain = s.resolve("L1", "other");
        assertThat(plain.mode()).isEqualTo(LimitMode.SHADOW);
        assertThat(spec(plain, Scope.ACCOUNT, Window.Unit.REQUESTS).limits()).containsExactly(60, 1000);
        ResolvedLimits big = s.resolve("L1", "big-*");
        assertThat(big.mode()).isEqualTo(LimitMode.ENFORCE);
        assertThat(spec(big, Scope.ACCOUNT, Window.Unit.REQUESTS).windows()).containsExactly(Window.RPM, Window.RPD);
        assertThat(spec(big, Scope.ACCOUNT, Window.Unit.REQUESTS).limits()).containsExactly(6, 1000);
        assertThat(spec(big, Scope.ACCOUNT, Window.Unit.TOKENS).limits()).containsExactly(5000);
        assertThat(spec(big, Scope.KEY, Window.Unit.REQUESTS).limits()).containsExactly(10);
        assertThat(big.globalConcurrency()).isEqualTo(7);
        assertThat(big.accountConcurrency()).isEqualTo(-1);
    }

    @Test
    void unknownTierUsesTheDefaultTierAndNoTiersMeansNoLimits() {
        LimitsSnapshot s = snapshot(Map.of("usage-guard.tiers.L0.rpm", 3, "usage-guard.limits.default-tier", "L0"));
        assertThat(s.resolve("NOPE", "m").tier()).isEqualTo("L0");
        assertThat(spec(s.resolve("NOPE", "m"), Scope.ACCOUNT, Window.Unit.REQUESTS).limits()).containsExactly(3);
        assertThat(snapshot(Map.of()).resolve("L1", "m").isEmpty()).isTrue();
    }

    @Test
    void aReplicasShareRoundsUp() {
        LimitsSnapshot s = snapshot(Map.of("usage-guard.tiers.L1.rpm", 10, "usage-guard.tiers.L1.concurrency", 3));
        ResolvedLimits share = s.resolve("L1", "m").divided(4);
        assertThat(spec(share, Scope.ACCOUNT, Window.Unit.REQUESTS).limits()).containsExactly(3);
        assertThat(share.accountConcurrency()).isEqualTo(1);
    }

    @Test
    void negativeLimitsAreRefusedAtLoad() {
        assertThatThrownBy(() -> snapshot(Map.of("usage-guard.tiers.L1.rpm", -1)))
                .hasMessageContaining("rpm must not be negative");
    }

    @Test
    void watchedFilesComeFromTheAdditionalLocations() {
        assertThat(ConfigFileWatcher.fromLocations("optional:file:/etc/ug/limits.yml, classpath:/x.yml,file:/etc/ug/"))
                .containsExactly(Path.of("/etc/ug/limits.yml"), Path.of("/etc/ug/application.yml"),
                        Path.of("/etc/ug/application.yaml"), Path.of("/etc/ug/application.properties"));
    }

    @Test
    void throttledKeysPayMoreTokensPerRequest() {
        assertThat(Admission.scaled(10, 1.0)).isEqualTo(10);
        assertThat(Admission.scaled(10, 0.5)).isEqualTo(20);
        assertThat(Admission.scaled(1, 0.3)).isEqualTo(4);
        assertThat(Admission.scaled(1, 0)).isEqualTo(Long.MAX_VALUE);
    }
}
