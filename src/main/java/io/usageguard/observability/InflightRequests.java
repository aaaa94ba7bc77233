package io.usageguard.observability;

import java.util.concurrent.atomic.AtomicLong;

import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Keeps {@code usage_guard_inflight_requests{model}}: a request counts from the moment it passed
 * model routing until its response is complete (streams included), refused, failed or cancelled.
 * Placed right after model routing, so the model label is known; it refuses nothing.
 */
@Component
public class InflightRequests implements GuardFilter {

    private final GuardMetrics metrics;
    private final ModelLabels labels;

    public InflightRequests(GuardMetrics metrics, ModelLabels labels) {
        this.metrics = metrics;
        this.labels = labels;
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        if (ctx.inference() == null) {
            return chain.next(ctx);
        }
        AtomicLong gauge = metrics.inflight(labels.model(ctx));
        gauge.incrementAndGet(); // released once, when the request is over however it ends
        ctx.onEnd(signal -> gauge.decrementAndGet());
        return chain.next(ctx);
    }
}
