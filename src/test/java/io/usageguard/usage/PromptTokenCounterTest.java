package io.usageguard.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import io.usageguard.routing.InferenceRequest;
import io.usageguard.routing.InferenceRequestParser;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

class PromptTokenCounterTest {

    static final InferenceRequestParser PARSER = new InferenceRequestParser(64, 1_048_576, 64L * 1024 * 1024);
    static final Encoding CL100K = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);

    static UsageProperties properties(Map<String, String> tokenizers, int maxChars) {
        return new UsageProperties(tokenizers, false, maxChars, 4, true, DataSize.ofMegabytes(1), DataSize.ofKilobytes(64));
    }

    static InferenceRequest request(String body) {
        return PARSER.parse(body.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void countsWithTheConfiguredTokenizer() {
        PromptTokenCounter counter = new PromptTokenCounter(properties(Map.of("gpt-*", "cl100k_base"), 32768));
        InferenceRequest r = request("{\"model\":\"gpt-x\",\"max_tokens\":10,\"stream\":true,"
                + "\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},"
                + "{\"role\":\"user\",\"content\":\"Wie viele Tokens hat dieser Satz? 日本語も少し。\"}]}");
        long expected = CL100K.countTokensOrdinary("system\nYou are terse.\nuser\nWie viele Tokens hat dieser Satz? 日本語も少し。");
        assertThat(counter.count(r)).isEqualTo(expected);
        // the character estimate would differ: the test shows the tokenizer was used
        assertThat(expected).isNotEqualTo((long) Math.ceil(r.promptChars() / 4.0));
    }

    @Test
    void estimatesCharactersOverFourWithoutATokenizer() {
        PromptTokenCounter counter = new PromptTokenCounter(properties(Map.of("gpt-*", "cl100k_base"), 32768));
        InferenceRequest r = request("{\"model\":\"llama-3\",\"messages\":[{\"role\":\"user\",\"content\":\"0123456789\"}]}");
        assertThat(r.promptChars()).isEqualTo(14);
        assertThat(counter.count(r)).isEqualTo(4); // ceil(14 / 4)
        assertThat(counter.count(request("{\"model\":\"llama-3\"}"))).isEqualTo(1);
    }

    @Test
    void aHugePromptIsTokenizedOnlyUpToTheCapAndExtrapolated() {
        String sentence = "The quick brown fox jumps over the lazy dog while the cat sleeps. ";
        String text = sentence.repeat(60_000); // about 4 MB
        InferenceRequest r = request("{\"model\":\"gpt-x\",\"prompt\":\"" + text + "\"}");
        PromptTokenCounter capped = new PromptTokenCounter(properties(Map.of("gpt-*", "cl100k_base"), 10_000));
        long exact = CL100K.countTokensOrdinary(text);
        long estimate = capped.count(r);
        assertThat((double) estimate).isCloseTo((double) exact, org.assertj.core.data.Percentage.withPercentage(2));
    }

    @Test
    void theMostSpecificGlobWins() {
        PromptTokenCounter counter = new PromptTokenCounter(properties(
                Map.of("gpt-*", "cl100k_base", "gpt-4o*", "o200k_base", "exact", "p50k_base"), 100));
        assertThat(counter.encodingFor("gpt-4o-mini").orElseThrow().getName()).isEqualTo("o200k_base");
        assertThat(counter.encodingFor("gpt-4").orElseThrow().getName()).isEqualTo("cl100k_base");
        assertThat(counter.encodingFor("exact").orElseThrow().getName()).isEqualTo("p50k_base");
        assertThat(counter.encodingFor("other")).isEmpty();
    }

    @Test
    void openAiModelNamesAreKnownWhenEnabled() {
        PromptTokenCounter counter = new PromptTokenCounter(new UsageProperties(Map.of(), true, 100, 4, true,
                DataSize.ofMegabytes(1), DataSize.ofKilobytes(64)));
        assertThat(counter.encodingFor("gpt-4o").orElseThrow().getName()).isEqualTo("o200k_base");
        assertThat(counter.encodingFor("deepseek-chat")).isEmpty();
    }

    @Test
    void anUnknownEncodingStopsStartUp() {
        assertThatThrownBy(() -> new PromptTokenCounter(properties(Map.of("m", "cl200k"), 100)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("usage-guard.usage.tokenizers.[m]");
    }
}
