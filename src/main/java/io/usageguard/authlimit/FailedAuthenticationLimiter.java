package io.usageguard.authlimit;

import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.usageguard.identity.FailedAuthentications;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.sharing.NetworkKeys;
import org.springframework.stereotype.Component;

/**
 * Counts failed authentications (malformed or unknown keys; {@link io.usageguard.identity.IdentityFilter}
 * reports them) per client address in this process's memory, bounded in the number of addresses.
 * A fixed window per address, started by its first failure. Local to each replica: behind N
 * replicas an address gets at most N × max tries per window.
 */
@Component
public class FailedAuthenticationLimiter implements FailedAuthentications {

    private final AuthFailureProperties properties;
    private final Clock clock;
    private final long windowMillis;
    private final Cache<Long, Failures> failures;

    public FailedAuthenticationLimiter(AuthFailureProperties properties, Clock clock) {
        this.properties = properties;
        this.clock = clock;
        this.windowMillis = properties.window().toMillis();
        this.failures = Caffeine.newBuilder()
                .maximumSize(properties.maxTrackedAddresses())
                .expireAfterWrite(windowMillis, TimeUnit.MILLISECONDS)
                .executor(Runnable::run) // upkeep on the caller: no thread hand-off on the request path
                .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
                .build();
    }

    private static final class Failures {
        long windowStart;
        int count;

        Failures(long windowStart) {
            this.windowStart = windowStart;
        }
    }

    @Override
    public void record(GuardContext ctx) {
        InetAddress ip = ctx.clientIp();
        if (properties.max() == 0 || ip == null) {
            return;
        }
        long now = clock.millis();
        Failures f = failures.get(key(ip), k -> new Failures(now));
        synchronized (f) {
            if (now - f.windowStart >= windowMillis) {
                f.windowStart = now;
                f.count = 0;
            }
            f.count++;
        }
    }

    /** How long this address must wait, or null when it may try. Memory only: no store is asked. */
    public Duration blockedFor(InetAddress ip) {
        if (properties.max() == 0 || ip == null) {
            return null;
        }
        Failures f = failures.getIfPresent(key(ip));
        if (f == null) {
            return null;
        }
        long now = clock.millis();
        synchronized (f) {
            long left = f.windowStart + windowMillis - now;
            return f.count >= properties.max() && left > 0 ? Duration.ofMillis(left) : null;
        }
    }

    private long key(InetAddress ip) {
        return NetworkKeys.of(ip, properties.ipv4Prefix(), properties.ipv6Prefix());
    }
}
