package io.usageguard.usage;

import java.util.Map;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * {@code usage-guard.usage.*}: how prompt tokens are counted at admission and how the tokens a
 * request really used are read from the backend's answer. See {@code docs/tokens-and-usage.md}.
 *
 * @param tokenizers          model glob (in brackets) → jtokkit encoding ({@code cl100k_base},
 *                            {@code o200k_base}, {@code p50k_base}, {@code p50k_edit}, {@code r50k_base});
 *                            the most specific glob wins, a literal name beats any glob
 * @param openaiModelNames    also use jtokkit's own table of OpenAI model names ({@code gpt-4o} →
 *                            {@code o200k_base}) for models no glob names
 * @param maxTokenizedChars   at most this many characters of a prompt are tokenized; the rest is
 *                            estimated at the ratio measured on the tokenized part
 * @param charsPerToken       the estimate where no tokenizer is known: ceil(characters / this)
 * @param requestStreamUsage  add {@code stream_options.include_usage=true} to streams whose client did not,
 *                            and remove the usage-only chunk from what that client sees
 * @param maxEventSize        an SSE event whose data is larger than this is not scanned for usage
 * @param maxHeldEventSize    while removing the usage chunk, an event is held back until it is complete
 *                            up to this size, then passed on as it comes
 */
@ConfigurationProperties("usage-guard.usage")
public record UsageProperties(
        Map<String, String> tokenizers,
        @DefaultValue("false") boolean openaiModelNames,
        @DefaultValue("32768") int maxTokenizedChars,
        @DefaultValue("4") double charsPerToken,
        @DefaultValue("true") boolean requestStreamUsage,
        @DefaultValue("1MB") DataSize maxEventSize,
        @DefaultValue("64KB") DataSize maxHeldEventSize) {

    public UsageProperties {
        tokenizers = tokenizers == null ? Map.of() : Map.copyOf(tokenizers);
        if (maxTokenizedChars < 0) {
            throw new IllegalArgumentException("usage-guard.usage.max-tokenized-chars must not be negative");
        }
        if (!(charsPerToken > 0)) {
            throw new IllegalArgumentException("usage-guard.usage.chars-per-token must be positive");
        }
    }

    /** ceil(chars / charsPerToken). */
    public long estimateTokens(long chars) {
        return chars <= 0 ? 0 : (long) Math.ceil(chars / charsPerToken);
    }
}
