package io.usageguard.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.nio.charset.StandardCharsets;
import java.util.Random;

import org.junit.jupiter.api.Test;

class JsonUsageScannerTest {

    static final String CHAT = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"m\","
            + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Grüße 🌍\","
            + "\"usage\":{\"prompt_tokens\":999}},\"finish_reason\":\"stop\"}],"
            + "\"usage\" : { \"prompt_tokens\" : 21 , \"completion_tokens\" :7,\"total_tokens\":28,"
            + "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}";

    static final String SYMBOLS = "{}[]\":,\\ 0a";

    static JsonUsageScanner scan(byte[] bytes, int... cuts) {
        JsonUsageScanner s = new JsonUsageScanner();
        int from = 0;
        for (int cut : cuts) {
            s.feed(bytes, from, cut - from);
            from = cut;
        }
        s.feed(bytes, from, bytes.length - from);
        s.finish();
        return s;
    }

    @Test
    void readsTopLevelUsageAtEverySplit() {
        byte[] bytes = CHAT.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i <= bytes.length; i++) {
            for (int j = i; j <= bytes.length; j += 7) {
                JsonUsageScanner s = scan(bytes, i, j);
                assertThat(s.usageSeen()).as("split %d,%d", i, j).isTrue();
                assertThat(s.promptTokens()).isEqualTo(21);
                assertThat(s.completionTokens()).isEqualTo(7);
                assertThat(s.textChars()).isEqualTo(7); // "Grüße 🌍": the emoji counts once
                assertThat(s.failed()).isFalse();
            }
        }
    }

    @Test
    void embeddingsHaveOnlyPromptTokens() {
        JsonUsageScanner s = scan(("{\"object\":\"list\",\"data\":[{\"embedding\":[0.1,-2e-3]}],"
                + "\"usage\":{\"prompt_tokens\":5,\"total_tokens\":5}}").getBytes(StandardCharsets.UTF_8));
        assertThat(s.usageSeen()).isTrue();
        assertThat(s.promptTokens()).isEqualTo(5);
        assertThat(s.completionTokens()).isEqualTo(-1);
    }

    @Test
    void nullOrMissingUsageIsNotSeen() {
        assertThat(scan("{\"choices\":[],\"usage\":null}".getBytes()).usageSeen()).isFalse();
        assertThat(scan("{\"choices\":[]}".getBytes()).usageSeen()).isFalse();
        assertThat(scan("{\"usage\":{}}".getBytes()).usageSeen()).isFalse();
        // an unclosed usage object is not trusted
        assertThat(scan("{\"usage\":{\"prompt_tokens\":3".getBytes()).usageSeen()).isFalse();
    }

    @Test
    void choicesEmptyOnlyForAnEmptyTopLevelArray() {
        assertThat(scan("{\"choices\":[]}".getBytes()).choicesEmpty()).isTrue();
        assertThat(scan("{\"choices\":[ ]}".getBytes()).choicesEmpty()).isTrue();
        assertThat(scan("{\"choices\":[{}]}".getBytes()).choicesEmpty()).isFalse();
        assertThat(scan("{\"choices\":[0]}".getBytes()).choicesEmpty()).isFalse();
        assertThat(scan("{\"x\":{\"choices\":[]}}".getBytes()).choicesEmpty()).isFalse();
    }

    @Test
    void textIsCountedInContentTextAndToolArguments() {
        JsonUsageScanner s = scan(("{\"choices\":[{\"text\":\"abc\"},{\"message\":{\"content\":null,\"tool_calls\":"
                + "[{\"function\":{\"name\":\"nope\",\"arguments\":\"{\\\"a\\\":1}\"}}],\"reasoning_content\":\"xy\"}}]}")
                .getBytes(StandardCharsets.UTF_8));
        assertThat(s.textChars()).isEqualTo(3 + 7 + 2);
    }

    @Test
    void tooDeepOrBrokenJsonStopsWithoutThrowing() {
        String deep = "{\"a\":" + "[".repeat(200) + "]".repeat(200) + ",\"usage\":{\"prompt_tokens\":1}}";
        JsonUsageScanner s = scan(deep.getBytes());
        assertThat(s.failed()).isTrue();
        assertThat(s.usageSeen()).isFalse();
        JsonUsageScanner t = scan("{\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}} }}]]garbage".getBytes());
        assertThat(t.usageSeen()).isTrue();
        assertThat(t.completionTokens()).isEqualTo(2);
        assertThat(t.failed()).isTrue();
    }

    @Test
    void randomGarbageNeverThrows() {
        Random random = new Random(7);
        byte[] valid = CHAT.getBytes(StandardCharsets.UTF_8);
        for (int round = 0; round < 3000; round++) {
            byte[] input = random.nextBoolean() ? new byte[random.nextInt(400)] : valid.clone();
            if (input.length != valid.length) {
                random.nextBytes(input);
            } else {
                for (int k = 1 + random.nextInt(6); k > 0; k--) {
                    input[random.nextInt(input.length)] = (byte) SYMBOLS.charAt(random.nextInt(SYMBOLS.length()));
                }
            }
            assertThatCode(() -> {
                JsonUsageScanner s = new JsonUsageScanner();
                s.feed(input);
                s.finish();
                s.usageSeen();
            }).doesNotThrowAnyException();
        }
    }
}
