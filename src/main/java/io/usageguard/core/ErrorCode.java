package io.usageguard.core;

import org.springframework.http.HttpStatus;

/** Every rejection the gateway gives, as contract §1 fixes them: status, OpenAI error type and code. */
public enum ErrorCode {
    MISSING_API_KEY(401, "authentication_error"),
    INVALID_API_KEY(401, "authentication_error"),
    API_KEY_REVOKED(401, "authentication_error"),
    API_KEY_EXPIRED(401, "authentication_error"),
    API_KEY_SUSPENDED(403, "permission_error"),
    IP_NOT_ALLOWED(403, "permission_error"),
    ACCOUNT_SUSPENDED(403, "permission_error"),
    ACCOUNT_TERMINATED(403, "permission_error"),
    ACCOUNT_RESTRICTED(403, "permission_error"),
    REAL_NAME_VERIFICATION_REQUIRED(403, "permission_error"),
    MODEL_NOT_PERMITTED(403, "permission_error"),
    MODEL_NOT_FOUND(404, "invalid_request_error"),
    UNKNOWN_URL(404, "invalid_request_error"),
    METHOD_NOT_ALLOWED(405, "invalid_request_error"),
    INVALID_REQUEST_BODY(400, "invalid_request_error"),
    REQUEST_TOO_LARGE(413, "invalid_request_error"),
    REQUEST_HEADER_TOO_LARGE(431, "invalid_request_error"),
    RATE_LIMIT_EXCEEDED(429, "rate_limit_error"),
    CONCURRENCY_LIMIT_EXCEEDED(429, "rate_limit_error"),
    QUOTA_EXCEEDED(429, "rate_limit_error"),
    UPSTREAM_UNAVAILABLE(503, "server_error"),
    OVERLOADED(503, "server_error"),
    UPSTREAM_TIMEOUT(504, "server_error"),
    INTERNAL_ERROR(500, "server_error");

    private final HttpStatus status;
    private final String type;
    private final String code;

    ErrorCode(int status, String type) {
        this.status = HttpStatus.valueOf(status);
        this.type = type;
        this.code = name().toLowerCase(java.util.Locale.ROOT);
    }

    public HttpStatus status() {
        return status;
    }

    public String type() {
        return type;
    }

    /** The wire code, e.g. {@code invalid_api_key}. */
    public String code() {
        return code;
    }

    /** 429 and 503 answers carry Retry-After (contract §1). */
    public boolean needsRetryAfter() {
        return status.value() == 429 || status.value() == 503;
    }
}
