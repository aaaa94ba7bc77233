package io.usageguard.usage;

/**
 * Tokens one request used.
 *
 * @param promptTokens     prompt tokens
 * @param completionTokens completion tokens
 * @param reported         true when the backend reported them ({@code usage}); false when they are the
 *                         gateway's estimate (e.g. a stream that ended without usage)
 */
public record TokenUsage(long promptTokens, long completionTokens, boolean reported) {

    public long total() {
        return promptTokens + completionTokens;
    }
}
