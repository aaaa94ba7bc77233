package io.usageguard.pipeline;

/**
 * Told once when a request on the public port is over: answered, refused, failed or cancelled by
 * the client. Metrics, the access log and metering are observers. Must not block or throw.
 */
public interface RequestObserver {

    void onComplete(GuardContext ctx, RequestEnd end);
}
