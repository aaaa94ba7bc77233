package io.usageguard.shedding;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.core.NativeRequests;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.http.HttpHeaders;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;

/**
 * The first guard, and the cheapest: refuses oversized headers (431), refuses everything while the
 * gateway drains for shutdown (503 {@code overloaded}, {@code Connection: close}), and holds the
 * global in-flight ceiling (503 {@code overloaded} at once past it). A request's slot is freed when
 * its response ends however it ends: completed, failed, or cancelled by a client that went away.
 */
@Component
public class LoadSheddingFilter implements GuardFilter {

    private static final Duration RETRY = Duration.ofSeconds(1);

    private final int maxInFlight;
    private final long maxHeaderBytes;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final GuardRejection overloaded;
    private final GuardRejection draining;
    private final GuardRejection headersTooLarge;
    private final GuardRejection bodyTimeout = new GuardRejection(ErrorCode.INVALID_REQUEST_BODY,
            "The request body was not received in time.");
    private volatile boolean drainingNow;

    public LoadSheddingFilter(SheddingProperties shedding, RequestEdgeProperties request) {
        this.maxInFlight = shedding.maxInFlight();
        this.maxHeaderBytes = request.maxHeaderSize().toBytes();
        this.overloaded = new GuardRejection(ErrorCode.OVERLOADED,
                "The gateway is overloaded; please retry shortly.", RETRY);
        this.draining = new GuardRejection(ErrorCode.OVERLOADED,
                "The gateway is shutting down; please retry.", RETRY);
        this.headersTooLarge = new GuardRejection(ErrorCode.REQUEST_HEADER_TOO_LARGE,
                "The request headers are larger than the limit of " + maxHeaderBytes + " bytes.");
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        if (headerBytes(ctx.exchange().getRequest()) > maxHeaderBytes) {
            return Mono.error(headersTooLarge);
        }
        if (drainingNow) {
            ctx.exchange().getResponse().getHeaders().set(HttpHeaders.CONNECTION, "close");
            return Mono.error(draining);
        }
        if (inFlight.incrementAndGet() > maxInFlight && maxInFlight > 0) {
            inFlight.decrementAndGet();
            return Mono.error(overloaded);
        }
        ctx.onEnd(signal -> inFlight.decrementAndGet());
        return chain.next(ctx);
    }

    /**
     * The error a request ends with, as the client should see it: reactor-netty's request body
     * timeout becomes 400 {@code invalid_request_body} on a connection that is then closed.
     */
    public Throwable translate(GuardContext ctx, Throwable e) {
        if (isBodyTimeout(e)) {
            ctx.exchange().getResponse().getHeaders().set(HttpHeaders.CONNECTION, "close");
            return bodyTimeout;
        }
        return e;
    }

    /** reactor-netty's {@code usage-guard.request.body-timeout} (its exception class is not public). */
    private static boolean isBodyTimeout(Throwable e) {
        return e.getClass().getName().equals("reactor.netty.http.server.RequestTimeoutException");
    }

    /** Requests admitted and not yet over. */
    public int inFlight() {
        return inFlight.get();
    }

    /** From now on every new request is refused (shutdown). */
    void startDraining() {
        drainingNow = true;
    }

    public boolean isDraining() {
        return drainingNow;
    }

    /** Bytes of the header block as sent, read from Netty's own headers when served by reactor-netty. */
    static long headerBytes(ServerHttpRequest request) {
        if (NativeRequests.of(request) instanceof HttpServerRequest netty) {
            long total = 0;
            var it = netty.requestHeaders().iteratorCharSequence();
            while (it.hasNext()) {
                var e = it.next();
                total += e.getKey().length() + 4 + e.getValue().length();
            }
            return total;
        }
        return headerBytes(request.getHeaders());
    }

    /** Bytes of the header block as sent: name, ": ", value, CRLF per field. */
    static long headerBytes(HttpHeaders headers) {
        long total = 0;
        for (Map.Entry<String, List<String>> e : headers.headerSet()) {
            int name = e.getKey().length() + 4;
            for (String v : e.getValue()) {
                total += name + v.length();
            }
        }
        return total;
    }
}
