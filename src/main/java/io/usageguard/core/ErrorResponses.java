package io.usageguard.core;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import reactor.core.publisher.Mono;

/** Writes the OpenAI error shape of contract §1. The one place that renders a rejection. */
public final class ErrorResponses {

    private ErrorResponses() {
    }

    public static Mono<Void> write(ServerHttpResponse response, GuardRejection rejection) {
        return write(response, rejection.code(), rejection.getMessage(), rejection.retryAfter());
    }

    public static Mono<Void> write(ServerHttpResponse response, ErrorCode code, String message, Duration retryAfter) {
        if (response.isCommitted()) {
            return Mono.empty();
        }
        response.setStatusCode(code.status());
        HttpHeaders headers = response.getHeaders();
        headers.setContentType(MediaType.APPLICATION_JSON);
        if (code.needsRetryAfter()) {
            headers.set(HttpHeaders.RETRY_AFTER, Long.toString(retryAfterSeconds(retryAfter)));
        }
        byte[] body = json(code, message).getBytes(StandardCharsets.UTF_8);
        headers.setContentLength(body.length);
        DataBuffer buffer = response.bufferFactory().wrap(body);
        return response.writeWith(Mono.just(buffer));
    }

    /** Whole seconds, rounded up, at least 1. */
    public static long retryAfterSeconds(Duration retryAfter) {
        if (retryAfter == null || retryAfter.isNegative() || retryAfter.isZero()) {
            return 1;
        }
        long seconds = retryAfter.getSeconds() + (retryAfter.getNano() > 0 ? 1 : 0);
        return Math.max(1, seconds);
    }

    public static String json(ErrorCode code, String message) {
        return json(code.type(), code.code(), message);
    }

    public static String json(String type, String code, String message) {
        StringBuilder sb = new StringBuilder(96 + message.length());
        sb.append("{\"error\":{\"message\":");
        appendJsonString(sb, message);
        sb.append(",\"type\":\"").append(type)
                .append("\",\"code\":\"").append(code)
                .append("\",\"param\":null}}");
        return sb.toString();
    }

    static void appendJsonString(StringBuilder sb, String s) {
        JsonStrings.append(sb, s);
    }
}
