package io.usageguard.observability;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.usageguard.core.ErrorCode;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.RequestEnd;
import io.usageguard.pipeline.RequestObserver;
import io.usageguard.usage.TokenUsage;
import org.springframework.stereotype.Component;

/**
 * The gateway's own metrics of contract §4, with bounded labels only (never a key or an account):
 * <ul>
 * <li>{@code usage_guard_requests_total{route,model,outcome,code}}: outcome {@code allowed},
 * {@code rejected} (the gateway answered with a contract error) or {@code shadow_rejected} (served,
 * but a limit in shadow mode would have refused it; {@code code} is then the code it would have had);
 * {@code code} is {@code ok} or a contract code</li>
 * <li>{@code usage_guard_tokens_total{model,type}}: prompt and completion tokens as metered</li>
 * <li>{@code usage_guard_inflight_requests{model}} (kept by {@link InflightRequests})</li>
 * <li>{@code usage_guard_decision_seconds}: a histogram (with buckets, for {@code histogram_quantile})
 * of the time the guards took, the backend's time excluded</li>
 * </ul>
 */
@Component
public class GuardMetrics implements RequestObserver {

    public static final String OUTCOME_ALLOWED = "allowed";
    public static final String OUTCOME_REJECTED = "rejected";
    public static final String OUTCOME_SHADOW_REJECTED = "shadow_rejected";

    private final MeterRegistry registry;
    private final ModelLabels labels;
    private final Map<RequestTags, Counter> requests = new ConcurrentHashMap<>();
    private final Map<String, Counter> promptTokens;
    private final Map<String, Counter> completionTokens;
    private final Map<String, AtomicLong> inflight;
    private final Timer decision;

    private record RequestTags(String route, String model, String outcome, String code) {
    }

    public GuardMetrics(MeterRegistry registry, ModelLabels labels, ObservabilityProperties properties) {
        this.registry = registry;
        this.labels = labels;
        Map<String, Counter> prompt = new HashMap<>();
        Map<String, Counter> completion = new HashMap<>();
        Map<String, AtomicLong> gauges = new HashMap<>();
        for (String model : labels.models()) { // all exist from the start, at zero
            prompt.put(model, tokens(model, "prompt"));
            completion.put(model, tokens(model, "completion"));
            AtomicLong g = new AtomicLong();
            Gauge.builder("usage_guard.inflight.requests", g, AtomicLong::get)
                    .description("Requests on the public port past model routing and not yet answered")
                    .tag("model", model).register(registry);
            gauges.put(model, g);
        }
        this.promptTokens = Map.copyOf(prompt);
        this.completionTokens = Map.copyOf(completion);
        this.inflight = Map.copyOf(gauges);
        this.decision = Timer.builder("usage_guard.decision")
                .description("Time spent deciding whether to serve a request (all guards), backend excluded")
                .publishPercentileHistogram()
                .minimumExpectedValue(properties.decision().minimumExpected())
                .maximumExpectedValue(properties.decision().maximumExpected())
                .register(registry);
        labels.modelBackends().forEach((model, backends) -> { // the common case exists from the start too
            for (String backend : backends) {
                requestCounter(backend, model, OUTCOME_ALLOWED, "ok");
            }
        });
    }

    private Counter tokens(String model, String type) {
        return Counter.builder("usage_guard.tokens").description("Tokens metered, by configured model")
                .tag("model", model).tag("type", type).register(registry);
    }

    @Override
    public void onComplete(GuardContext ctx, RequestEnd end) {
        String model = labels.model(ctx);
        String outcome;
        String code;
        ErrorCode shadow = ctx.shadowRejection();
        if (end.error() != null) {
            outcome = OUTCOME_REJECTED;
            code = end.error().code();
        } else if (shadow != null) {
            outcome = OUTCOME_SHADOW_REJECTED;
            code = shadow.code();
        } else {
            outcome = OUTCOME_ALLOWED;
            code = "ok";
        }
        requestCounter(labels.route(ctx), model, outcome, code).increment();
        TokenUsage usage = ctx.usage();
        if (usage != null) {
            if (usage.promptTokens() > 0) {
                promptTokens.get(model).increment(usage.promptTokens());
            }
            if (usage.completionTokens() > 0) {
                completionTokens.get(model).increment(usage.completionTokens());
            }
        }
        if (ctx.decisionNanos() >= 0) {
            decision.record(ctx.decisionNanos(), TimeUnit.NANOSECONDS);
        }
    }

    private Counter requestCounter(String route, String model, String outcome, String code) {
        return requests.computeIfAbsent(new RequestTags(route, model, outcome, code), t -> Counter
                .builder("usage_guard.requests")
                .description("Requests on the public port by backend, configured model, outcome and contract code")
                .tag("route", t.route()).tag("model", t.model()).tag("outcome", t.outcome()).tag("code", t.code())
                .register(registry));
    }

    /** The in-flight gauge's counter for a model label (one of {@link ModelLabels#models()}). */
    AtomicLong inflight(String model) {
        AtomicLong g = inflight.get(model);
        return g != null ? g : inflight.get(ModelLabels.OTHER);
    }
}
