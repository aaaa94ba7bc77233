package io.usageguard.pipeline;

import java.net.InetAddress;

import io.usageguard.account.Account;
import io.usageguard.core.ErrorCode;
import io.usageguard.identity.ApiKey;
import io.usageguard.routing.InferenceRequest;
import io.usageguard.routing.ModelRoute;
import io.usageguard.usage.TokenUsage;
import org.springframework.web.server.ServerWebExchange;

/**
 * What the guards learn about one request, in the order they learn it. Lives in the exchange's
 * attributes under {@link #ATTR}. Holds no secret: the key itself is never stored here, only the
 * key record (id, prefix, status) it resolved to.
 */
public final class GuardContext {

    public static final String ATTR = GuardContext.class.getName();

    private ServerWebExchange exchange;
    private final String requestId;
    private final long startNanos;
    private InetAddress clientIp;
    private ApiKey key;
    private Account account;
    private InferenceRequest inference;
    private ModelRoute route;
    private long decisionNanos = -1;
    private ErrorCode error;
    private long promptTokenEstimate = -1;
    private volatile TokenUsage usage;
    private ErrorCode shadowRejection;

    public GuardContext(ServerWebExchange exchange, String requestId, long startNanos) {
        this.exchange = exchange;
        this.requestId = requestId;
        this.startNanos = startNanos;
    }

    public static GuardContext of(ServerWebExchange exchange) {
        return exchange.getAttribute(ATTR);
    }

    public ServerWebExchange exchange() {
        return exchange;
    }

    /** A guard that decorates the request (e.g. replays the body it read) installs the new exchange here. */
    public void exchange(ServerWebExchange exchange) {
        this.exchange = exchange;
        exchange.getAttributes().put(ATTR, this);
    }

    public String requestId() {
        return requestId;
    }

    public long startNanos() {
        return startNanos;
    }

    public InetAddress clientIp() {
        return clientIp;
    }

    public void clientIp(InetAddress clientIp) {
        this.clientIp = clientIp;
    }

    public ApiKey key() {
        return key;
    }

    public void key(ApiKey key) {
        this.key = key;
    }

    public Account account() {
        return account;
    }

    public void account(Account account) {
        this.account = account;
    }

    /** Null for requests without a model (e.g. {@code GET /v1/models}). */
    public InferenceRequest inference() {
        return inference;
    }

    public void inference(InferenceRequest inference) {
        this.inference = inference;
    }

    public ModelRoute route() {
        return route;
    }

    public void route(ModelRoute route) {
        this.route = route;
    }

    /** Time spent deciding (all guards), excluding the backend; -1 until decided. */
    public long decisionNanos() {
        return decisionNanos;
    }

    void decided(long nanos) {
        if (decisionNanos < 0) {
            decisionNanos = nanos;
        }
    }

    /** The contract error this request was answered with, if the gateway answered it with one. */
    public ErrorCode error() {
        return error;
    }

    void error(ErrorCode error) {
        this.error = error;
    }

    /** Prompt tokens estimated at admission (tokenizer or documented estimate); -1 before. */
    public long promptTokenEstimate() {
        return promptTokenEstimate;
    }

    public void promptTokenEstimate(long tokens) {
        this.promptTokenEstimate = tokens;
    }

    /** Tokens the request really used, once known (from the backend's usage, or the estimate); null before. */
    public TokenUsage usage() {
        return usage;
    }

    public void usage(TokenUsage usage) {
        this.usage = usage;
    }

    /** In shadow mode: the limit code that would have refused this request; null otherwise. */
    public ErrorCode shadowRejection() {
        return shadowRejection;
    }

    public void shadowRejection(ErrorCode code) {
        if (this.shadowRejection == null) {
            this.shadowRejection = code;
        }
    }

    private volatile boolean clientCancelled;

    /** The client went away before the response was complete (seen where the response body is written). */
    public void clientCancelled() {
        this.clientCancelled = true;
    }

    public boolean isClientCancelled() {
        return clientCancelled;
    }
}
