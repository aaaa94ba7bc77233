package io.usageguard.pipeline;

import java.net.InetAddress;

import io.usageguard.account.Account;
import io.usageguard.core.ErrorCode;
import io.usageguard.identity.ApiKey;
import io.usageguard.routing.InferenceRequest;
import io.usageguard.routing.ModelRoute;
import io.usageguard.usage.TokenUsage;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.SignalType;

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
    private EndHook[] endHooks;
    private int endHookCount;
    private ServerHttpResponse observedResponse;
    private EndHook responseEnd;

    /** Something a guard holds until the request is over (a slot, a lease, a gauge), given back then. */
    @FunctionalInterface
    public interface EndHook {
        /** The request is over: completed, failed or cancelled (the client went away). Called once. */
        void ended(SignalType signal);
    }

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

    /** The exchange as proxied (a decorator of the first one: it shares its attributes). */
    void exchange(ServerWebExchange exchange) {
        this.exchange = exchange;
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

    /**
     * Runs {@code hook} when the request is over, however it ends. Hooks run in the reverse order of
     * their registration (the guard that ran last gives back first), after the response observer's
     * own end and before the {@link RequestObserver}s. Cheaper than wrapping the rest of the chain in
     * operators, and it keeps a guard that passes synchronous.
     */
    public void onEnd(EndHook hook) {
        if (endHooks == null) {
            endHooks = new EndHook[4];
        } else if (endHookCount == endHooks.length) {
            endHooks = java.util.Arrays.copyOf(endHooks, endHookCount * 2);
        }
        endHooks[endHookCount++] = hook;
    }

    /**
     * The response as the backend's answer is to be written through (a decorator that observes it),
     * installed with the forwarded request when the guards have all passed; {@code end} runs first
     * when the request is over, so that what it learns ({@link #usage()}) is known to the end hooks.
     */
    public void observeResponse(ServerHttpResponse observed, EndHook end) {
        this.observedResponse = observed;
        this.responseEnd = end;
    }

    ServerHttpResponse observedResponse() {
        return observedResponse;
    }

    /** The request is over: runs the response observer's end, then the end hooks. Called once, by the pipeline. */
    public void ended(SignalType signal) {
        EndHook first = responseEnd;
        responseEnd = null;
        if (first != null) {
            run(first, signal);
        }
        EndHook[] hooks = endHooks;
        int n = endHookCount;
        endHookCount = 0;
        for (int i = n - 1; i >= 0; i--) {
            run(hooks[i], signal);
        }
    }

    private static void run(EndHook hook, SignalType signal) {
        try {
            hook.ended(signal);
        } catch (RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(GuardContext.class).warn("end of request: {} failed", hook.getClass().getName(), e);
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
