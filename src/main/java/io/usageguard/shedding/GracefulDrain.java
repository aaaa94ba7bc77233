package io.usageguard.shedding;

import java.time.Duration;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationListener;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.core.Ordered;
import org.springframework.stereotype.Component;

/**
 * Drains the gateway on shutdown (SIGTERM closes the context), before anything else of the context
 * stops: readiness goes to REFUSING_TRAFFIC (OUT_OF_SERVICE on the management port's readiness
 * probe, which stays up meanwhile), every new request is refused with 503 {@code overloaded} and
 * {@code Connection: close}, and running requests (streams) get up to
 * {@code usage-guard.shutdown.grace-period} to finish. Then the usual shutdown goes on: the
 * management server closes and the web server's graceful shutdown stops accepting connections.
 */
@Component
public class GracefulDrain implements ApplicationListener<ContextClosedEvent>, Ordered {

    private static final Logger log = LoggerFactory.getLogger(GracefulDrain.class);

    private final ApplicationContext context;
    private final LoadSheddingFilter shedding;
    private final Duration gracePeriod;

    public GracefulDrain(ApplicationContext context, LoadSheddingFilter shedding, ShutdownProperties properties) {
        this.context = context;
        this.shedding = shedding;
        this.gracePeriod = properties.gracePeriod();
    }

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE; // before the management context is closed with its parent
    }

    @Override
    public void onApplicationEvent(ContextClosedEvent event) {
        if (event.getApplicationContext() != context || shedding.isDraining()) {
            return; // the management child context's close event reaches us too
        }
        shedding.startDraining();
        AvailabilityChangeEvent.publish(context, ReadinessState.REFUSING_TRAFFIC);
        long deadline = System.nanoTime() + gracePeriod.toNanos();
        int running = shedding.inFlight();
        if (running > 0) {
            log.info("shutting down: waiting up to {} for {} running request(s)", gracePeriod, running);
        }
        while (shedding.inFlight() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (shedding.inFlight() > 0) {
            log.warn("shutting down: grace period over, {} request(s) still running are cut", shedding.inFlight());
        }
    }
}
