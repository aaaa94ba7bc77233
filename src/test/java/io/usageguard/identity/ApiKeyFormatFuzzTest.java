package io.usageguard.identity;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the key classifier with arbitrary strings (it sees whatever a client puts in
 * {@code Authorization}). It must never throw, and what it accepts must fit the contract's shapes.
 * Replays the committed corpus under
 * {@code src/test/resources/io/usageguard/identity/ApiKeyFormatFuzzTestInputs/classify/} in every run.
 */
class ApiKeyFormatFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void classify(FuzzedDataProvider data) {
        // a header value as reactor-netty hands it over: one char per byte (corpus files are raw values)
        String key = new String(data.consumeRemainingAsBytes(), StandardCharsets.ISO_8859_1);
        ApiKeyFormat.Shape shape = ApiKeyFormat.classify(key);
        assertThat(shape).isNotNull();
        switch (shape) {
            case ISSUED -> {
                assertThat(key).hasSize(ApiKeyFormat.ISSUED_LENGTH).startsWith("sk-");
                assertThat(key).endsWith(ApiKeyFormat.checksum(key.substring(0, key.length() - 6)));
            }
            case LEGACY -> {
                assertThat(key.length()).isBetween(20, 200);
                assertThat(key.chars().allMatch(c -> c >= 0x21 && c <= 0x7e)).isTrue();
            }
            case MALFORMED -> {
            }
        }
        // hashing and display never fail on anything classify accepted
        if (shape != ApiKeyFormat.Shape.MALFORMED) {
            assertThat(ApiKeyFormat.hash(key)).hasSize(64);
            assertThat(ApiKeyFormat.displayPrefix(key)).isNotEmpty();
        }
    }
}
