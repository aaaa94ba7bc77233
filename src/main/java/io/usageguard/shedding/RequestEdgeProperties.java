package io.usageguard.shedding;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * {@code usage-guard.request.max-header-size} and {@code usage-guard.request.body-timeout}: what a
 * client may send before any guard has looked at it (the body size cap is routing's
 * {@code usage-guard.request.max-body-size}).
 *
 * @param maxHeaderSize request headers larger than this (names, values and separators) get 431
 *                      {@code request_header_too_large}. Netty's own decoder limit
 *                      ({@code server.max-http-request-header-size}) is set 8 KB above it unless
 *                      configured, so that the gateway, not the decoder, answers with the JSON error.
 * @param bodyTimeout   longest time to receive a request's body; a client trickling its body is
 *                      disconnected after it
 */
@ConfigurationProperties("usage-guard.request")
public record RequestEdgeProperties(
        @DefaultValue("16KB") DataSize maxHeaderSize,
        @DefaultValue("30s") Duration bodyTimeout) {

    /** Slack between the gateway's limit and Netty's decoder limit. */
    public static final DataSize DECODER_SLACK = DataSize.ofKilobytes(8);
}
