package io.usageguard.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the SSE usage parser with raw response streams (corpus files are raw bytes as a backend
 * would send them). It must never throw, and what it reads must not depend on how the network cut
 * the stream: whole, byte by byte, or in pseudo-random chunks (derived from the input), the numbers
 * are the same. Replays the corpus under
 * {@code src/test/resources/io/usageguard/usage/SseUsageParserFuzzTestInputs/parse/} in every run.
 */
class SseUsageParserFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void parse(FuzzedDataProvider data) {
        byte[] stream = data.consumeRemainingAsBytes();
        for (long maxEvent : new long[] {SseUsageParser.DEFAULT_MAX_EVENT_BYTES, 64}) {
            String whole = read(stream, maxEvent, new int[] {Integer.MAX_VALUE});
            String bytes = read(stream, maxEvent, new int[] {1});
            SplittableRandom random = new SplittableRandom(java.util.Arrays.hashCode(stream));
            int[] sizes = new int[16];
            for (int i = 0; i < sizes.length; i++) {
                sizes[i] = 1 + random.nextInt(64);
            }
            String chunks = read(stream, maxEvent, sizes);
            assertThat(bytes).as("byte by byte").isEqualTo(whole);
            assertThat(chunks).as("in chunks").isEqualTo(whole);
        }
    }

    /** Feeds the stream in chunks of the given sizes (cycled) and renders what the parser read. */
    private static String read(byte[] stream, long maxEvent, int[] sizes) {
        SseUsageParser parser = new SseUsageParser(maxEvent);
        int i = 0;
        int k = 0;
        while (i < stream.length) {
            int n = Math.min(sizes[k++ % sizes.length], stream.length - i);
            parser.feed(stream, i, n);
            i += n;
        }
        parser.finish();
        if (parser.usageSeen()) {
            assertThat(parser.promptTokens() >= -1 && parser.completionTokens() >= -1).isTrue();
        }
        assertThat(parser.events()).isBetween(0L, (long) stream.length);
        return parser.usageSeen() + " " + parser.promptTokens() + " " + parser.completionTokens() + " "
                + parser.events() + " " + parser.textEvents() + " " + parser.textChars() + " " + parser.done();
    }
}
