package io.usageguard.core;

import java.time.Duration;

/**
 * A request refused by one of the guards. Carries no stack trace: it is control flow on the hot
 * path, not a fault. The message is shown to the client and must never contain a key, a prompt or
 * a completion.
 */
public final class GuardRejection extends RuntimeException {

    private final ErrorCode code;
    private final Duration retryAfter;

    public GuardRejection(ErrorCode code, String message) {
        this(code, message, null);
    }

    public GuardRejection(ErrorCode code, String message, Duration retryAfter) {
        super(message, null, false, false);
        this.code = code;
        this.retryAfter = retryAfter;
    }

    public ErrorCode code() {
        return code;
    }

    /** Null when the guard has no better estimate; the writer then uses 1 s for 429/503. */
    public Duration retryAfter() {
        return retryAfter;
    }
}
