package io.usageguard.core;

import java.net.ConnectException;
import java.util.concurrent.TimeoutException;

import io.netty.handler.timeout.ReadTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.webflux.error.ErrorWebExceptionHandler;
import org.springframework.core.annotation.Order;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.http.HttpStatusCode;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * Whatever escapes the guards and the proxy still leaves as the contract's JSON: never an HTML page,
 * a stack trace or a Whitelabel error. Runs before Spring Boot's default handler.
 */
@Component
@Order(-2)
public class JsonErrorWebExceptionHandler implements ErrorWebExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(JsonErrorWebExceptionHandler.class);

    @Override
    public Mono<Void> handle(ServerWebExchange exchange, Throwable ex) {
        if (exchange.getResponse().isCommitted()) {
            return Mono.error(ex);
        }
        GuardRejection rejection = classify(exchange, ex);
        if (rejection.code() == ErrorCode.INTERNAL_ERROR) {
            logUnexpected(exchange.getResponse().getHeaders().getFirst("x-request-id"), ex);
        }
        return ErrorResponses.write(exchange.getResponse(), rejection);
    }

    /** Logs the exception type and where it happened; never a body (exception messages may quote one). */
    public static void logUnexpected(String requestId, Throwable ex) {
        StackTraceElement[] trace = ex.getStackTrace();
        log.error("request {} failed unexpectedly: {} at {}", requestId, ex.getClass().getName(),
                trace.length > 0 ? trace[0] : "?");
    }

    public static GuardRejection classify(ServerWebExchange exchange, Throwable ex) {
        if (ex instanceof GuardRejection r) {
            return r;
        }
        if (ex instanceof DataBufferLimitException) {
            return new GuardRejection(ErrorCode.REQUEST_TOO_LARGE, "The request body is too large.");
        }
        if (isTimeout(ex)) {
            return new GuardRejection(ErrorCode.UPSTREAM_TIMEOUT, "The model backend did not answer in time.");
        }
        if (hasCause(ex, java.util.concurrent.RejectedExecutionException.class)) {
            return new GuardRejection(ErrorCode.OVERLOADED, "The gateway is overloaded; try again shortly.");
        }
        if (hasCause(ex, org.springframework.dao.DataAccessException.class)) {
            return new GuardRejection(ErrorCode.UPSTREAM_UNAVAILABLE,
                    "The key registry is unavailable; try again shortly.");
        }
        if (isConnectFailure(ex)) {
            return new GuardRejection(ErrorCode.UPSTREAM_UNAVAILABLE, "The model backend is unavailable.");
        }
        if (ex instanceof ResponseStatusException rse) {
            HttpStatusCode status = rse.getStatusCode();
            String method = exchange.getRequest().getMethod().name();
            String path = exchange.getRequest().getPath().value();
            return switch (status.value()) {
                case 404 -> new GuardRejection(ErrorCode.UNKNOWN_URL, "Invalid URL (" + method + " " + path + ").");
                case 405 -> new GuardRejection(ErrorCode.METHOD_NOT_ALLOWED,
                        "Method " + method + " is not allowed for " + path + ".");
                case 413 -> new GuardRejection(ErrorCode.REQUEST_TOO_LARGE, "The request body is too large.");
                case 431 -> new GuardRejection(ErrorCode.REQUEST_HEADER_TOO_LARGE, "The request headers are too large.");
                case 400, 415 -> new GuardRejection(ErrorCode.INVALID_REQUEST_BODY, "The request could not be read.");
                case 503 -> new GuardRejection(ErrorCode.UPSTREAM_UNAVAILABLE, "The model backend is unavailable.");
                case 504 -> new GuardRejection(ErrorCode.UPSTREAM_TIMEOUT, "The model backend did not answer in time.");
                default -> new GuardRejection(ErrorCode.INTERNAL_ERROR, "The gateway could not process the request.");
            };
        }
        return new GuardRejection(ErrorCode.INTERNAL_ERROR, "The gateway could not process the request.");
    }

    private static boolean hasCause(Throwable ex, Class<? extends Throwable> type) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isTimeout(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof TimeoutException || t instanceof ReadTimeoutException) {
                return true;
            }
            if (t instanceof ResponseStatusException rse && rse.getStatusCode().value() == 504) {
                return true;
            }
        }
        return false;
    }

    private static boolean isConnectFailure(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof ConnectException || t instanceof java.nio.channels.ClosedChannelException
                    || t.getClass().getName().startsWith("org.springframework.cloud.gateway.support.NotFoundException")
                    || t.getClass().getName().equals("reactor.netty.http.client.PrematureCloseException")) {
                return true;
            }
        }
        return false;
    }
}
