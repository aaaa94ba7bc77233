package io.usageguard.observability;

import java.util.regex.Pattern;

import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.RequestEnd;
import io.usageguard.pipeline.RequestObserver;
import io.usageguard.usage.TokenUsage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * One JSON line per request on the public port, at INFO on the logger {@code usage-guard.access}
 * (switch off with {@code usage-guard.observability.access-log.enabled=false} or that logger's level).
 *
 * <p>Fields: {@code request_id, method, path, account_id, key_id, key_prefix, model, route, status,
 * code, outcome, latency_ms, decision_us, prompt_tokens, completion_tokens, tokens_reported,
 * client_network, stream, cancelled}. Never the key, never a body, never a header value (the
 * request id is the gateway's or a client's id restricted to {@code [A-Za-z0-9._:-]}); the client
 * is shown by its /24 (IPv4) or /48 (IPv6) network only; a path outside the API's own is logged as
 * {@code other}.
 */
@Component
public class AccessLog implements RequestObserver {

    public static final String LOGGER = "usage-guard.access";

    private static final Logger log = LoggerFactory.getLogger(LOGGER);
    /** The API's own paths; anything else is logged as "other" (a path is the client's text). */
    private static final Pattern KNOWN_PATH = Pattern.compile("/v1/[a-z]+(/[a-z_]+)?");
    private static final int MAX_MODEL = 128;

    private final boolean enabled;
    private final ModelLabels labels;

    public AccessLog(ObservabilityProperties properties, ModelLabels labels) {
        this.enabled = properties.accessLog().enabled();
        this.labels = labels;
    }

    @Override
    public void onComplete(GuardContext ctx, RequestEnd end) {
        if (enabled && log.isInfoEnabled()) {
            log.info(line(ctx, end));
        }
    }

    String line(GuardContext ctx, RequestEnd end) {
        StringBuilder sb = new StringBuilder(512);
        sb.append('{');
        field(sb, "request_id", ctx.requestId());
        var request = ctx.exchange().getRequest();
        field(sb, "method", request.getMethod().name());
        String path = request.getPath().value();
        field(sb, "path", KNOWN_PATH.matcher(path).matches() ? path : "other");
        field(sb, "account_id", ctx.account() == null ? null : ctx.account().id());
        field(sb, "key_id", ctx.key() == null ? null : ctx.key().id());
        field(sb, "key_prefix", ctx.key() == null ? null : ctx.key().prefix());
        String model = ctx.inference() == null ? null : ctx.inference().model();
        if (model != null && model.length() > MAX_MODEL) {
            model = model.substring(0, MAX_MODEL);
        }
        field(sb, "model", model);
        field(sb, "route", labels.route(ctx));
        number(sb, "status", end.status());
        field(sb, "code", end.code());
        field(sb, "outcome", end.error() != null ? GuardMetrics.OUTCOME_REJECTED
                : ctx.shadowRejection() != null ? GuardMetrics.OUTCOME_SHADOW_REJECTED : GuardMetrics.OUTCOME_ALLOWED);
        if (ctx.shadowRejection() != null) {
            field(sb, "shadow_code", ctx.shadowRejection().code());
        }
        number(sb, "latency_ms", end.totalNanos() / 1_000_000);
        number(sb, "decision_us", ctx.decisionNanos() < 0 ? -1 : ctx.decisionNanos() / 1_000);
        TokenUsage usage = ctx.usage();
        if (usage != null) {
            number(sb, "prompt_tokens", usage.promptTokens());
            number(sb, "completion_tokens", usage.completionTokens());
            sb.append("\"tokens_reported\":").append(usage.reported()).append(',');
        } else {
            sb.append("\"prompt_tokens\":null,\"completion_tokens\":null,\"tokens_reported\":null,");
        }
        field(sb, "client_network", ClientNetworks.of(ctx.clientIp()));
        sb.append("\"stream\":").append(ctx.inference() != null && ctx.inference().stream()).append(',');
        sb.append("\"cancelled\":").append(end.cancelled());
        sb.append('}');
        return sb.toString();
    }

    private static void field(StringBuilder sb, String name, String value) {
        sb.append('"').append(name).append("\":");
        if (value == null) {
            sb.append("null");
        } else {
            string(sb, value);
        }
        sb.append(',');
    }

    private static void number(StringBuilder sb, String name, long value) {
        sb.append('"').append(name).append("\":").append(value).append(',');
    }

    static void string(StringBuilder sb, String s) {
        io.usageguard.core.JsonStrings.append(sb, s);
    }
}
