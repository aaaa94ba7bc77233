package io.usageguard.usage;

import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import io.usageguard.routing.InferenceRequest;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Tokens of an inference request. At admission: sets {@link GuardContext#promptTokenEstimate} (for
 * the rate limits that run next), and for a stream whose client did not ask for usage, asks the
 * backend for it ({@code stream_options.include_usage}). Then observes the answer as it passes to
 * the client and sets {@link GuardContext#usage} when it ends: the backend's usage when reported,
 * else an estimate. Requests without a model (e.g. {@code GET /v1/models}) are passed on untouched.
 * Nothing of the prompt or the answer is kept or logged; only counts.
 */
@Component
public class UsageFilter implements GuardFilter {

    private final UsageProperties properties;
    private final PromptTokenCounter counter;

    public UsageFilter(UsageProperties properties, PromptTokenCounter counter) {
        this.properties = properties;
        this.counter = counter;
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        InferenceRequest request = ctx.inference();
        if (request == null) {
            return chain.next(ctx);
        }
        ctx.promptTokenEstimate(counter.count(request));
        boolean removeUsageChunk = false;
        if (properties.requestStreamUsage() && request.stream() && !request.includeUsage()
                && acceptsStreamOptions(ctx.exchange().getRequest().getPath().value())) {
            byte[] body = IncludeUsageRewriter.rewrite(request.body());
            if (body != null) {
                // the client's own flag stays false: it did not ask, and must not see the usage chunk
                ctx.inference(new InferenceRequest(request.model(), request.stream(), request.maxTokens(), request.n(),
                        request.includeUsage(), request.promptChars(), body));
                removeUsageChunk = true;
            }
        }
        UsageObservingResponse response = new UsageObservingResponse(ctx.exchange().getResponse(), ctx, properties,
                removeUsageChunk);
        // installed with the forwarded request; its end runs before the other guards' end hooks, so
        // that ctx.usage() is set whenever they release what they reserved
        ctx.observeResponse(response, response::requestEnded);
        return chain.next(ctx);
    }

    /** The OpenAI endpoints that take {@code stream_options}: chat completions and (legacy) completions. */
    static boolean acceptsStreamOptions(String path) {
        return path.endsWith("/chat/completions") || path.endsWith("/completions");
    }
}
