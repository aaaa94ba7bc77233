package io.usageguard.routing;

import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Reads the body of an inference request once, refusing it with 413 as soon as it passes the cap
 * (a declared Content-Length over the cap is refused before reading anything), parses the routing
 * fields in one streaming pass, and replays the bytes to the backend.
 */
@Component
public class RequestBodyFilter implements GuardFilter {

    private static final byte[] EMPTY = new byte[0];

    private final int maxBytes;
    private final InferenceRequestParser parser;
    private final GuardRejection tooLarge;

    public RequestBodyFilter(RoutingProperties properties) {
        long max = properties.request().maxBodySize().toBytes();
        this.maxBytes = (int) Math.min(Integer.MAX_VALUE - 8, max);
        this.parser = new InferenceRequestParser(properties.request().maxNestingDepth(),
                properties.request().maxTokensCeiling(), maxBytes);
        this.tooLarge = new GuardRejection(ErrorCode.REQUEST_TOO_LARGE,
                "The request body is larger than the limit of " + properties.request().maxBodySize().toBytes()
                        + " bytes.");
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        ServerHttpRequest request = ctx.exchange().getRequest();
        if (request.getMethod() != HttpMethod.POST || !request.getPath().value().startsWith("/v1/")) {
            return chain.next(ctx); // not an inference call: nothing to read (unknown URLs end as 404)
        }
        if (request.getHeaders().getContentLength() > maxBytes) {
            return Mono.error(tooLarge);
        }
        return DataBufferUtils.join(request.getBody(), maxBytes)
                .onErrorMap(DataBufferLimitException.class, e -> tooLarge)
                .map(RequestBodyFilter::drain)
                .defaultIfEmpty(EMPTY)
                .flatMap(bytes -> {
                    ctx.inference(parser.parse(bytes));
                    ctx.exchange(ctx.exchange().mutate().request(new ReplayedBody(request, ctx)).build());
                    return chain.next(ctx);
                });
    }

    private static byte[] drain(DataBuffer buffer) {
        try {
            byte[] bytes = new byte[buffer.readableByteCount()];
            buffer.read(bytes);
            return bytes;
        } finally {
            DataBufferUtils.release(buffer);
        }
    }

    /**
     * The request as the backend gets it: the body bytes of {@link GuardContext#inference()} (a later
     * guard may replace them, e.g. to ask for usage in a stream) with a matching Content-Length.
     */
    static final class ReplayedBody extends ServerHttpRequestDecorator {

        private final GuardContext ctx;

        ReplayedBody(ServerHttpRequest delegate, GuardContext ctx) {
            super(delegate);
            this.ctx = ctx;
        }

        @Override
        public HttpHeaders getHeaders() {
            HttpHeaders headers = new HttpHeaders();
            headers.putAll(super.getHeaders());
            headers.remove(HttpHeaders.TRANSFER_ENCODING);
            headers.setContentLength(ctx.inference().body().length);
            return headers;
        }

        @Override
        public Flux<DataBuffer> getBody() {
            return Flux.defer(() -> Flux.just(ctx.exchange().getResponse().bufferFactory().wrap(ctx.inference().body())));
        }
    }
}
