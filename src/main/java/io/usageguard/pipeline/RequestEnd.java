package io.usageguard.pipeline;

import io.usageguard.core.ErrorCode;

/**
 * How a request ended.
 *
 * @param status    the HTTP status sent (0 if nothing was sent before the client went away)
 * @param error     the contract error code when the gateway refused or failed it; null when the backend answered
 * @param cancelled the client disconnected before the response was complete
 * @param totalNanos from arrival to the end of the response
 */
public record RequestEnd(int status, ErrorCode error, boolean cancelled, long totalNanos) {

    /** {@code ok}, or the contract code (contract §4's {@code code} label). */
    public String code() {
        return error == null ? "ok" : error.code();
    }
}
