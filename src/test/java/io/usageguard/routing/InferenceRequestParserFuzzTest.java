package io.usageguard.routing;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;

/**
 * Fuzzes the request body parser with raw bytes. Its only way to refuse is a {@link GuardRejection}
 * with {@code invalid_request_body}: any other exception (which would become a 500), a hang, or an
 * out-of-memory is a finding. In a normal test run this replays the committed corpus under
 * {@code src/test/resources/io/usageguard/routing/InferenceRequestParserFuzzTestInputs/parse/};
 * {@code JAZZER_FUZZ=1} fuzzes for real (docs/robustness.md).
 */
class InferenceRequestParserFuzzTest {

    /** Same limits as the defaults (depth 64, max_tokens ceiling 1048576), a smaller document cap. */
    private static final InferenceRequestParser PARSER = new InferenceRequestParser(64, 1_048_576, 1 << 20);

    @FuzzTest(maxDuration = "30s")
    void parse(FuzzedDataProvider data) {
        // the whole input is the body: corpus files are raw request bodies
        byte[] body = data.consumeRemainingAsBytes();
        InferenceRequest request;
        try {
            request = PARSER.parse(body);
        } catch (GuardRejection r) {
            assertThat(r.code()).isEqualTo(ErrorCode.INVALID_REQUEST_BODY);
            assertThat(r.getMessage()).isNotBlank();
            return;
        }
        assertThat(request.model()).isNotBlank();
        assertThat(request.model().length()).isLessThanOrEqualTo(256);
        assertThat(request.body()).isSameAs(body);
        assertThat(request.promptChars()).isBetween(0L, (long) body.length);
        if (request.maxTokens() != null) {
            assertThat(request.maxTokens()).isBetween(1, 1_048_576);
        }
        if (request.n() != null) {
            assertThat(request.n()).isBetween(1, 128);
        }
    }
}
