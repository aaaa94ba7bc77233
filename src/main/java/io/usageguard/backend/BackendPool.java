package io.usageguard.backend;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.routing.RoutingProperties;
import org.springframework.stereotype.Component;

/**
 * Every configured backend with its breaker and bulkhead, built once from
 * {@code usage-guard.backends.<id>}. Picks a healthy backend of a model's pool: the one with the
 * fewest requests in flight (ties in round-robin order) whose bulkhead has room and whose breaker
 * lets the call through.
 */
@Component
public class BackendPool {

    private final Map<String, ProtectedBackend> backends = new HashMap<>();
    private final AtomicInteger roundRobin = new AtomicInteger();
    private final CircuitBreakerRegistry breakers;
    private final BulkheadRegistry bulkheads;

    public BackendPool(RoutingProperties properties, CircuitBreakerRegistry breakers, BulkheadRegistry bulkheads) {
        this.breakers = breakers;
        this.bulkheads = bulkheads;
        properties.backends().forEach((id, backend) -> {
            CircuitBreakerSettings cb = backend.circuitBreaker();
            CircuitBreaker breaker = breakers.circuitBreaker(id, CircuitBreakerConfig.custom()
                    .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                    .slidingWindowSize(cb.slidingWindowSize())
                    .minimumNumberOfCalls(cb.minimumNumberOfCalls())
                    .failureRateThreshold(cb.failureRateThreshold())
                    .waitDurationInOpenState(cb.waitDurationInOpenState())
                    .permittedNumberOfCallsInHalfOpenState(cb.permittedCallsInHalfOpenState())
                    .build());
            Bulkhead bulkhead = bulkheads.bulkhead(id, BulkheadConfig.custom()
                    .maxConcurrentCalls(backend.maxConcurrent() > 0 ? backend.maxConcurrent() : Integer.MAX_VALUE)
                    .maxWaitDuration(Duration.ZERO) // full means refused at once, never queued
                    .build());
            backends.put(id, new ProtectedBackend(id, backend, breaker, bulkhead));
        });
    }

    public CircuitBreaker breaker(String id) {
        return backends.get(id).breaker();
    }

    public Bulkhead bulkhead(String id) {
        return backends.get(id).bulkhead();
    }

    /**
     * A permit to call one backend of the pool, or 503 {@code upstream_unavailable} when none is
     * healthy, with Retry-After the shortest wait until one may be.
     */
    Lease acquire(List<String> pool) {
        int n = pool.size();
        if (n == 1) {
            ProtectedBackend only = backends.get(pool.get(0));
            Lease lease = tryAcquire(only);
            if (lease == null) {
                throw unavailable(only.bulkhead().getMetrics().getAvailableConcurrentCalls() == 0
                        ? Duration.ofSeconds(1) : only.retryAfter());
            }
            return lease;
        }
        ProtectedBackend[] order = new ProtectedBackend[n];
        int start = Math.floorMod(roundRobin.getAndIncrement(), n);
        for (int i = 0; i < n; i++) {
            order[i] = backends.get(pool.get((start + i) % n));
        }
        // least in flight first; a stable insertion sort keeps round-robin order among equals
        for (int i = 1; i < n; i++) {
            ProtectedBackend b = order[i];
            int load = b.inFlight();
            int j = i - 1;
            while (j >= 0 && order[j].inFlight() > load) {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = b;
        }
        Duration retry = null;
        for (ProtectedBackend b : order) {
            Lease lease = tryAcquire(b);
            if (lease != null) {
                return lease;
            }
            Duration r = b.bulkhead().getMetrics().getAvailableConcurrentCalls() == 0
                    ? Duration.ofSeconds(1) : b.retryAfter();
            retry = retry == null || r.compareTo(retry) < 0 ? r : retry;
        }
        throw unavailable(retry);
    }

    private static Lease tryAcquire(ProtectedBackend b) {
        if (!b.bulkhead().tryAcquirePermission()) {
            return null;
        }
        if (!b.breaker().tryAcquirePermission()) {
            b.bulkhead().onComplete();
            return null;
        }
        return new Lease(b);
    }

    private static GuardRejection unavailable(Duration retryAfter) {
        return new GuardRejection(ErrorCode.UPSTREAM_UNAVAILABLE,
                "The model backend is unavailable or at capacity; please retry later.", retryAfter);
    }

    /**
     * One call's hold on a backend: the bulkhead slot (released once, when the call ends however it
     * ends) and the breaker permission (settled once: success or failure when the answer is known,
     * given back unjudged when the client went away before it was).
     */
    static final class Lease {

        private final ProtectedBackend backend;
        private final long startNanos = System.nanoTime();
        private final AtomicBoolean settled = new AtomicBoolean();
        private final AtomicBoolean released = new AtomicBoolean();

        Lease(ProtectedBackend backend) {
            this.backend = backend;
        }

        String backendId() {
            return backend.id();
        }

        RoutingProperties.BackendProperties properties() {
            return backend.properties();
        }

        /** The backend answered with this status (known when the response is committed). */
        void answered(int status) {
            if (settled.compareAndSet(false, true)) {
                long nanos = System.nanoTime() - startNanos;
                if (status >= 500) {
                    backend.breaker().onError(nanos, TimeUnit.NANOSECONDS, new UpstreamStatusException(status));
                } else {
                    backend.breaker().onSuccess(nanos, TimeUnit.NANOSECONDS);
                }
            }
        }

        /** The call failed before an answer: timeout, connection refused or reset. */
        void failed(Throwable error) {
            if (settled.compareAndSet(false, true)) {
                backend.breaker().onError(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS, error);
            }
        }

        /** The client went away before the backend answered: no verdict on the backend. */
        void abandoned() {
            if (settled.compareAndSet(false, true)) {
                backend.breaker().releasePermission();
            }
        }

        void release() {
            if (released.compareAndSet(false, true)) {
                backend.bulkhead().onComplete();
            }
        }
    }

    /** A 5xx answer, recorded as a breaker failure. Carries no stack trace. */
    static final class UpstreamStatusException extends RuntimeException {
        UpstreamStatusException(int status) {
            super("backend answered " + status, null, false, false);
        }
    }
}
