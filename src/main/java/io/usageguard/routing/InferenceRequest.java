package io.usageguard.routing;

/**
 * The routing and accounting fields of a request body, and nothing of its content: the model, the
 * streaming flags, the requested completion size, the number of images, and how many characters
 * of prompt text it carries (for a token estimate). The body itself is kept only to forward it.
 *
 * @param maxTokens   {@code max_tokens} / {@code max_completion_tokens}; null when absent
 * @param n           {@code n}; null when absent
 * @param includeUsage whether the client asked for {@code stream_options.include_usage}
 * @param promptChars characters in the body's string values other than the routing fields
 */
public record InferenceRequest(
        String model,
        boolean stream,
        Integer maxTokens,
        Integer n,
        boolean includeUsage,
        long promptChars,
        byte[] body) {
}
