package io.usageguard.ratelimit;

import java.util.concurrent.atomic.AtomicReference;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.cloud.context.environment.EnvironmentChangeEvent;
import org.springframework.context.event.EventListener;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.stereotype.Component;

/**
 * The limit configuration in force: an immutable {@link LimitsSnapshot} swapped atomically when the
 * environment changes ({@code /actuator/refresh}, or a watched config file that changed on disk).
 * Buckets keep their counts across a swap: each carries the snapshot version it was configured with
 * and is re-configured in place, with its tokens carried over, the first time it is used after it.
 */
@Component
public class LimitsConfig {

    private static final Logger log = LoggerFactory.getLogger(LimitsConfig.class);

    private final ConfigurableEnvironment environment;
    private final AtomicReference<LimitsSnapshot> current = new AtomicReference<>();

    public LimitsConfig(ConfigurableEnvironment environment) {
        this.environment = environment;
        current.set(LimitsSnapshot.bind(Binder.get(environment), nextVersion(0)));
    }

    public LimitsSnapshot current() {
        return current.get();
    }

    @EventListener
    public void onEnvironmentChange(EnvironmentChangeEvent event) {
        reload();
    }

    /** Rebinds; a configuration that does not bind or merge is refused and the previous one stays. */
    public void reload() {
        LimitsSnapshot previous = current.get();
        try {
            LimitsSnapshot next = LimitsSnapshot.bind(Binder.get(environment), nextVersion(previous.version()));
            current.set(next);
            log.info("rate limit configuration reloaded (version {})", next.version());
        } catch (RuntimeException e) {
            log.error("rate limit configuration not reloaded, the previous one stays in force: {}", e.getMessage());
        }
    }

    /**
     * Wall-clock milliseconds, strictly increasing: replicas that load the newest configuration last
     * win over ones still holding an older one when they share buckets in Redis.
     */
    private static long nextVersion(long previous) {
        return Math.max(System.currentTimeMillis(), previous + 1);
    }
}
