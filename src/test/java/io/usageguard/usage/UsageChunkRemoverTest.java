package io.usageguard.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

class UsageChunkRemoverTest {

    static final String CONTENT = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"é世🎉\"}}]}\n\n"
            + "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    static final String USAGE = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}\n\n";
    static final String DONE = "data: [DONE]\n\n";

    record Run(String output, SseUsageParser parser) {
    }

    static Run run(byte[] input, int maxHeld, int... cuts) {
        SseUsageParser parser = new SseUsageParser();
        UsageChunkRemover remover = new UsageChunkRemover(parser, maxHeld);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int from = 0;
        int[] all = Arrays.copyOf(cuts, cuts.length + 1);
        all[cuts.length] = input.length;
        for (int to : all) {
            out.writeBytes(remover.pass(Arrays.copyOfRange(input, from, to)));
            from = to;
        }
        parser.finish();
        out.writeBytes(remover.flush());
        return new Run(out.toString(StandardCharsets.UTF_8), parser);
    }

    @Test
    void removesTheUsageChunkAtEverySplitPoint() {
        for (String eol : new String[]{"\n", "\r\n", "\r"}) {
            String stream = (CONTENT + USAGE + DONE).replace("\n", eol);
            String expected = (CONTENT + DONE).replace("\n", eol);
            byte[] bytes = stream.getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i <= bytes.length; i++) {
                for (int j = i; j <= bytes.length; j += 5) {
                    Run r = run(bytes, 64 * 1024, i, j);
                    assertThat(r.output()).as("eol %s split %d,%d", eol.replace("\r", "CR").replace("\n", "LF"), i, j)
                            .isEqualTo(expected);
                    assertThat(r.parser().completionTokens()).isEqualTo(34);
                }
            }
        }
    }

    @Test
    void completeEventsGoOnAtOnceAndOnlyAnIncompleteOneIsHeld() {
        SseUsageParser parser = new SseUsageParser();
        UsageChunkRemover remover = new UsageChunkRemover(parser, 64 * 1024);
        String first = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
        byte[] out = remover.pass((first + "data: {\"choi").getBytes(StandardCharsets.UTF_8));
        assertThat(new String(out, StandardCharsets.UTF_8)).isEqualTo(first);
        out = remover.pass("ces\":[{\"delta\":{\"content\":\"b\"}}]}\n\n".getBytes(StandardCharsets.UTF_8));
        assertThat(new String(out, StandardCharsets.UTF_8)).isEqualTo("data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n");
    }

    @Test
    void usageOnAContentChunkAndUnaskedShapesAreKept() {
        String withContent = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n";
        String nullUsage = "data: {\"choices\":[],\"usage\":null}\n\n";
        String stream = withContent + nullUsage + ": comment\n\n" + DONE;
        assertThat(run(stream.getBytes(StandardCharsets.UTF_8), 1024).output()).isEqualTo(stream);
    }

    @Test
    void aLargeEventIsPassedOnAsItComesAndNeverRemoved() {
        String big = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2},\"pad\":\""
                + "x".repeat(300) + "\"}\n\n";
        byte[] bytes = (big + DONE).getBytes(StandardCharsets.UTF_8);
        SseUsageParser parser = new SseUsageParser();
        UsageChunkRemover remover = new UsageChunkRemover(parser, 100);
        byte[] first = remover.pass(Arrays.copyOfRange(bytes, 0, 200));
        assertThat(first).hasSize(200); // held no more than 100 bytes: passed on as it came
        byte[] rest = remover.pass(Arrays.copyOfRange(bytes, 200, bytes.length));
        assertThat(new String(first, StandardCharsets.UTF_8) + new String(rest, StandardCharsets.UTF_8))
                .isEqualTo(big + DONE);
        assertThat(parser.completionTokens()).isEqualTo(2);
    }

    @Test
    void anUnterminatedTailIsFlushedAtTheEnd() {
        String stream = CONTENT + "data: {\"choices\":[{\"delta\":{\"content\":\"z\"}}]}";
        assertThat(run(stream.getBytes(StandardCharsets.UTF_8), 1024, 10).output()).isEqualTo(stream);
    }
}
