package io.usageguard.routing;

import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import reactor.core.publisher.Flux;

/**
 * The request as the backend gets it, built once when every guard has passed: the client's headers
 * without its credentials ({@code Authorization}, {@code x-api-key}), with the request id, and, when
 * the body was read, that body replayed (possibly rewritten, e.g. to ask a stream for usage) with its
 * exact {@code Content-Length}. The headers are computed once here rather than by each of the
 * framework's later readers: a request's headers are read a dozen times on the way out, and each
 * mutation through {@link ServerHttpRequest#mutate()} copies all of them.
 */
public final class ForwardedRequest extends ServerHttpRequestDecorator {

    private static final String API_KEY_HEADER = "x-api-key";

    private final HttpHeaders headers;
    private final byte[] body;
    private final DataBufferFactory buffers;

    /**
     * @param body the body to send, or null to pass the client's body through as it comes
     */
    public ForwardedRequest(ServerHttpRequest delegate, String requestIdHeader, String requestId, byte[] body,
                            DataBufferFactory buffers) {
        super(delegate);
        this.body = body;
        this.buffers = buffers;
        HttpHeaders h = new HttpHeaders();
        delegate.getHeaders().forEach((name, values) -> {
            if (!name.equalsIgnoreCase(HttpHeaders.AUTHORIZATION) && !name.equalsIgnoreCase(API_KEY_HEADER)
                    && !name.equalsIgnoreCase(requestIdHeader)
                    && (body == null || (!name.equalsIgnoreCase(HttpHeaders.TRANSFER_ENCODING)
                    && !name.equalsIgnoreCase(HttpHeaders.CONTENT_LENGTH)))) {
                h.addAll(name, values);
            }
        });
        h.set(requestIdHeader, requestId);
        if (body != null) {
            h.setContentLength(body.length);
        }
        this.headers = HttpHeaders.readOnlyHttpHeaders(h);
    }

    @Override
    public HttpHeaders getHeaders() {
        return headers;
    }

    @Override
    public Flux<DataBuffer> getBody() {
        if (body == null) {
            return super.getBody();
        }
        return Flux.defer(() -> Flux.just(buffers.wrap(body)));
    }
}
