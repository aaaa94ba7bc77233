package io.usageguard.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

class SseUsageParserTest {

    // "héllo 世界 🎉" is 10 characters (the emoji counts once); the escaped one is 7: ␠ " q " \n é ␠
    static final String STREAM = ""
            + "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n"
            + "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"héllo 世界 🎉\"}}],\"usage\":null}\n\n"
            + ": keep-alive\n\n"
            + "event: message\nid: 7\nretry: 100\n"
            + "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" \\\"q\\\"\\n\\u00e9 \"}}],\"usage\":null}\n\n"
            + "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
            + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34,\"total_tokens\":46,"
            + "\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n"
            + "data: [DONE]\n\n";

    record Result(boolean usageSeen, long prompt, long completion, long textChars, long textEvents, long events,
                  boolean done, List<String> usageOnlyEvents) {
    }

    static Result parseInPieces(byte[] bytes, int... cuts) {
        SseUsageParser p = new SseUsageParser();
        List<String> usageOnly = new ArrayList<>();
        int from = 0;
        int[] all = new int[cuts.length + 1];
        System.arraycopy(cuts, 0, all, 0, cuts.length);
        all[cuts.length] = bytes.length;
        StringBuilder stream = new StringBuilder();
        for (int to : all) {
            byte[] piece = java.util.Arrays.copyOfRange(bytes, from, to);
            int base = from;
            p.feed(piece, 0, piece.length, (end, only, cr) -> {
                if (only) {
                    usageOnly.add("usage event ending at " + (base + end));
                }
            });
            stream.append(new String(piece, StandardCharsets.ISO_8859_1));
            from = to;
        }
        p.finish();
        return new Result(p.usageSeen(), p.promptTokens(), p.completionTokens(), p.textChars(), p.textEvents(),
                p.events(), p.done(), usageOnly);
    }

    static Result whole(String s) {
        return parseInPieces(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void readsUsageTextAndDone() {
        Result r = whole(STREAM);
        assertThat(r.usageSeen()).isTrue();
        assertThat(r.prompt()).isEqualTo(12);
        assertThat(r.completion()).isEqualTo(34);
        assertThat(r.textChars()).isEqualTo(10 + 7);
        assertThat(r.textEvents()).isEqualTo(2);
        assertThat(r.events()).isEqualTo(6);
        assertThat(r.done()).isTrue();
        int usageEnd = STREAM.getBytes(StandardCharsets.UTF_8).length - "data: [DONE]\n\n".length();
        assertThat(r.usageOnlyEvents()).containsExactly("usage event ending at " + usageEnd);
    }

    @Test
    void everySingleSplitPointGivesTheSameResult() {
        for (String variant : variants()) {
            byte[] bytes = variant.getBytes(StandardCharsets.UTF_8);
            Result expected = parseInPieces(bytes);
            assertThat(expected.usageSeen()).isTrue();
            for (int i = 0; i <= bytes.length; i++) {
                assertThat(parseInPieces(bytes, i)).as("split at %d", i).isEqualTo(expected);
            }
        }
    }

    @Test
    void everyPairOfSplitPointsGivesTheSameResult() {
        // covers a "usage" key, a number, a CRLF and a 4-byte UTF-8 character cut in three pieces
        String shorter = "data: {\"choices\":[{\"delta\":{\"content\":\"é世🎉\"}}]}\n\n"
                + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}\n\n"
                + "data: [DONE]\n\n";
        byte[] bytes = shorter.replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
        Result expected = parseInPieces(bytes);
        assertThat(expected.completion()).isEqualTo(34);
        assertThat(expected.textChars()).isEqualTo(3);
        assertThat(expected.usageOnlyEvents()).hasSize(1);
        for (int i = 0; i <= bytes.length; i++) {
            for (int j = i; j <= bytes.length; j++) {
                Result r = parseInPieces(bytes, i, j);
                if (!r.equals(expected)) {
                    assertThat(r).as("split at %d and %d", i, j).isEqualTo(expected);
                }
            }
        }
    }

    @Test
    void byteByByteIsTheSameAsWhole() {
        for (String variant : variants()) {
            byte[] bytes = variant.getBytes(StandardCharsets.UTF_8);
            int[] cuts = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                cuts[i] = i;
            }
            assertThat(parseInPieces(bytes, cuts)).isEqualTo(parseInPieces(bytes));
        }
    }

    @Test
    void crlfAndCrLineEndsAreEventSeparators() {
        Result lf = whole(STREAM);
        Result crlf = whole(STREAM.replace("\n", "\r\n"));
        Result cr = whole(STREAM.replace("\n", "\r"));
        assertThat(crlf.usageSeen()).isTrue();
        assertThat(crlf.prompt()).isEqualTo(12);
        assertThat(crlf.events()).isEqualTo(lf.events());
        assertThat(crlf.textChars()).isEqualTo(lf.textChars());
        assertThat(cr.completion()).isEqualTo(34);
        assertThat(cr.events()).isEqualTo(lf.events());
        assertThat(cr.done()).isTrue();
    }

    @Test
    void multipleDataLinesAreOneEvent() {
        Result r = whole("data: {\"choices\":[],\n"
                + "data: \"usage\":{\"prompt_tokens\":1,\n"
                + "data:\"completion_tokens\":2}}\n\n");
        assertThat(r.usageSeen()).isTrue();
        assertThat(r.prompt()).isEqualTo(1);
        assertThat(r.completion()).isEqualTo(2);
        assertThat(r.events()).isEqualTo(1);
        assertThat(r.usageOnlyEvents()).hasSize(1);
    }

    @Test
    void theLastUsageWins() {
        Result r = whole("data: {\"choices\":[{\"delta\":{\"content\":\"ab\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n"
                + "data: {\"choices\":[{\"delta\":{\"content\":\"cd\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n");
        assertThat(r.completion()).isEqualTo(2);
        // usage on a chunk with content is not a usage-only chunk: it must never be removed
        assertThat(r.usageOnlyEvents()).isEmpty();
        assertThat(r.textChars()).isEqualTo(4);
    }

    @Test
    void usageOnlyInsideTheTopLevelObjectCounts() {
        Result r = whole("data: {\"choices\":[{\"usage\":{\"prompt_tokens\":99,\"completion_tokens\":99}}]}\n\n");
        assertThat(r.usageSeen()).isFalse();
        Result nested = whole("data: {\"x\":{\"usage\":{\"prompt_tokens\":99}}}\n\n");
        assertThat(nested.usageSeen()).isFalse();
    }

    @Test
    void nonIntegerCountsAreIgnored() {
        Result r = whole("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-3,\"completion_tokens\":2.5}}\n\n"
                + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":\"7\",\"completion_tokens\":1e3}}\n\n");
        assertThat(r.usageSeen()).isFalse();
        Result huge = whole("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":99999999999999999999,\"completion_tokens\":4}}\n\n");
        assertThat(huge.usageSeen()).isTrue();
        assertThat(huge.prompt()).isEqualTo(-1);
        assertThat(huge.completion()).isEqualTo(4);
    }

    @Test
    void aStreamWithoutAFinalEmptyLineStillCounts() {
        Result r = whole("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}");
        assertThat(r.usageSeen()).isTrue();
        assertThat(r.completion()).isEqualTo(4);
    }

    @Test
    void otherFieldsAndLookalikesAreNotData() {
        Result r = whole("datas: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n"
                + "dat: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n"
                + ": data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n"
                + "event: data\n\n"
                + "data\n\n"
                + "data:[DONE]\n\n");
        assertThat(r.usageSeen()).isFalse();
        assertThat(r.done()).isTrue();
        assertThat(r.events()).isEqualTo(2); // the empty "data" line and [DONE]
    }

    @Test
    void anOversizedEventIsSkippedUpToItsEnd() {
        String big = "data: {\"choices\":[{\"delta\":{\"content\":\"" + "x".repeat(500) + "\"}}],"
                + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n";
        String small = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3}}\n\n";
        SseUsageParser p = new SseUsageParser(200);
        p.feed((big + small).getBytes(StandardCharsets.UTF_8));
        assertThat(p.completionTokens()).isEqualTo(3);
        SseUsageParser q = new SseUsageParser(200);
        q.feed(big.getBytes(StandardCharsets.UTF_8));
        assertThat(q.usageSeen()).isFalse();
    }

    @Test
    void byteBufferFeedingMatchesArrays() {
        byte[] bytes = STREAM.getBytes(StandardCharsets.UTF_8);
        SseUsageParser p = new SseUsageParser();
        ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length);
        direct.put(bytes).flip();
        p.feed(direct);
        assertThat(direct.position()).isZero();
        assertThat(p.completionTokens()).isEqualTo(34);
        assertThat(p.textChars()).isEqualTo(17);
    }

    @Test
    void garbageNeverThrowsAndTheParserRecoversAtTheNextEvent() {
        Random random = new Random(42);
        byte[] valid = STREAM.getBytes(StandardCharsets.UTF_8);
        for (int round = 0; round < 2000; round++) {
            byte[] junk = new byte[random.nextInt(300)];
            random.nextBytes(junk);
            byte[] mutated = valid.clone();
            for (int k = random.nextInt(8); k > 0; k--) {
                mutated[random.nextInt(mutated.length)] = (byte) random.nextInt(256);
            }
            SseUsageParser p = new SseUsageParser(random.nextInt(2) == 0 ? 64 : SseUsageParser.DEFAULT_MAX_EVENT_BYTES);
            assertThatCode(() -> {
                int at = 0;
                for (byte[] input : new byte[][]{junk, mutated}) {
                    while (at < input.length) {
                        int n = Math.min(input.length - at, 1 + random.nextInt(40));
                        p.feed(input, at, n, (end, only, cr) -> {
                        });
                        at += n;
                    }
                    at = 0;
                }
                p.finish();
                p.textChars();
            }).doesNotThrowAnyException();
        }
        // after any garbage, a clean event following a blank line is read
        SseUsageParser p = new SseUsageParser();
        byte[] junk = new byte[5000];
        random.nextBytes(junk);
        p.feed(junk);
        p.feed("\n\n\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":9}}\n\n"
                .getBytes(StandardCharsets.UTF_8));
        assertThat(p.completionTokens()).isEqualTo(9);
    }

    static List<String> variants() {
        String multiData = STREAM.replace("data: {\"id\":\"c\",\"object\"", "data: {\"id\":\"c\",\ndata: \"object\"");
        return List.of(STREAM, STREAM.replace("\n", "\r\n"), STREAM.replace("\n", "\r"), multiData);
    }
}
