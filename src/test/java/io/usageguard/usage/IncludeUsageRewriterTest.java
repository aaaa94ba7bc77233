package io.usageguard.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class IncludeUsageRewriterTest {

    static final JsonMapper JSON = JsonMapper.builder().build();

    static String rewrite(String body) {
        byte[] out = IncludeUsageRewriter.rewrite(body.getBytes(StandardCharsets.UTF_8));
        return out == null ? null : new String(out, StandardCharsets.UTF_8);
    }

    static void assertAsksForUsage(String original, String rewritten) {
        JsonNode before = JSON.readTree(original);
        JsonNode after = JSON.readTree(rewritten);
        assertThat(after.path("stream_options").path("include_usage").asBoolean(false)).isTrue();
        // nothing else changed
        ((tools.jackson.databind.node.ObjectNode) after.path("stream_options")).remove("include_usage");
        if (before.path("stream_options").isObject()) {
            ((tools.jackson.databind.node.ObjectNode) before.path("stream_options")).remove("include_usage");
        }
        ((tools.jackson.databind.node.ObjectNode) after).remove("stream_options");
        ((tools.jackson.databind.node.ObjectNode) before).remove("stream_options");
        assertThat(after).isEqualTo(before);
    }

    @Test
    void addsStreamOptionsWhenAbsent() {
        String body = " {\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hé {\\\"x\\\"}\"}]}";
        String out = rewrite(body);
        assertThat(out).isEqualTo(" {\"stream_options\":{\"include_usage\":true},\"model\":\"m\",\"stream\":true,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hé {\\\"x\\\"}\"}]}");
        assertAsksForUsage(body, out);
    }

    @Test
    void mergesIntoAnExistingObject() {
        String body = "{\"model\":\"m\",\"stream_options\":{\"continuous_usage_stats\":false},\"stream\":true}";
        String out = rewrite(body);
        assertThat(out).isEqualTo("{\"model\":\"m\",\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":false},\"stream\":true}");
        assertAsksForUsage(body, out);
        assertThat(rewrite("{\"model\":\"m\",\"stream_options\": { }}"))
                .isEqualTo("{\"model\":\"m\",\"stream_options\": {\"include_usage\":true }}");
    }

    @Test
    void turnsFalseAndNullIntoTrue() {
        String body = "{\"stream_options\":{\"include_usage\": false,\"x\":[1]},\"model\":\"m\"}";
        String out = rewrite(body);
        assertThat(out).isEqualTo("{\"stream_options\":{\"include_usage\": true,\"x\":[1]},\"model\":\"m\"}");
        assertAsksForUsage(body, out);
        assertThat(rewrite("{\"model\":\"m\",\"stream_options\":{\"include_usage\":null}}"))
                .isEqualTo("{\"model\":\"m\",\"stream_options\":{\"include_usage\":true}}");
        assertThat(rewrite("{\"model\":\"m\",\"stream_options\":null}"))
                .isEqualTo("{\"model\":\"m\",\"stream_options\":{\"include_usage\":true}}");
    }

    @Test
    void duplicateKeysAreAllSetSoTheLastOneAsksToo() {
        String out = rewrite("{\"model\":\"m\",\"stream_options\":{\"include_usage\":true,\"include_usage\":false}}");
        assertThat(out).isEqualTo("{\"model\":\"m\",\"stream_options\":{\"include_usage\":true,\"include_usage\":true}}");
    }

    @Test
    void leavesOddShapesAlone() {
        assertThat(rewrite("{\"model\":\"m\",\"stream_options\":{\"include_usage\":\"yes\"}}")).isNull();
        assertThat(rewrite("{\"model\":\"m\",\"stream_options\":[]}")).isNull();
        assertThat(rewrite("[1]")).isNull();
        assertThat(rewrite("{\"model\":")).isNull();
    }
}
