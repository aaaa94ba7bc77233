package io.usageguard.routing;

import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.http.HttpMethod;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Reads the body of an inference request once, refusing it with 413 as soon as it passes the cap
 * (a declared Content-Length over the cap is refused before reading anything), parses the routing
 * fields in one streaming pass, and replays the bytes to the backend.
 */
@Component
public class RequestBodyFilter implements GuardFilter {

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
        long declared = request.getHeaders().getContentLength();
        if (declared > maxBytes) {
            return Mono.error(tooLarge);
        }
        return BodyReader.read(request.getBody(), maxBytes, declared, tooLarge, bytes -> {
            // replayed to the backend by ForwardedRequest, built once every guard has passed
            ctx.inference(parser.parse(bytes));
            return chain.next(ctx);
        });
    }
}
