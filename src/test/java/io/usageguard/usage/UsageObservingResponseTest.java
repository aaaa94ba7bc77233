package io.usageguard.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.usageguard.pipeline.GuardContext;
import org.junit.jupiter.api.Test;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DefaultDataBufferFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.http.server.reactive.MockServerHttpResponse;
import org.springframework.mock.web.server.MockServerWebExchange;
import org.springframework.util.unit.DataSize;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;

/**
 * How the observed response hands a JSON answer on: what the server below it is asked to write
 * (Spring's in-memory {@link MockServerHttpResponse} records it). A small JSON answer of known
 * length is one buffer, so reactor-netty writes headers and body together; everything else goes
 * on chunk by chunk. The usage is read either way, and a client leaving mid-answer is seen.
 */
class UsageObservingResponseTest {

    static final UsageProperties PROPERTIES = new UsageProperties(Map.of(), false, 32768, 4, true,
            DataSize.ofMegabytes(1), DataSize.ofKilobytes(64));
    static final DefaultDataBufferFactory FACTORY = DefaultDataBufferFactory.sharedInstance;

    final GuardContext ctx = new GuardContext(MockServerWebExchange.from(MockServerHttpRequest.post("/v1/chat/completions")),
            "r1", 0);
    final MockServerHttpResponse delegate = new MockServerHttpResponse();
    final UsageObservingResponse response = new UsageObservingResponse(delegate, ctx, PROPERTIES, false);

    static String answer(int padding) {
        return "{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"" + "a".repeat(padding)
                + "\"}}],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}";
    }

    /** The answer cut into chunks of this many bytes. */
    static Flux<DataBuffer> chunks(String answer, int size) {
        byte[] bytes = answer.getBytes(StandardCharsets.UTF_8);
        return Flux.range(0, (bytes.length + size - 1) / size)
                .map(i -> FACTORY.wrap(java.util.Arrays.copyOfRange(bytes, i * size, Math.min(bytes.length, (i + 1) * size))));
    }

    void json(long contentLength) {
        response.setStatusCode(HttpStatus.OK);
        response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
        if (contentLength >= 0) {
            response.getHeaders().setContentLength(contentLength);
        }
    }

    /** The buffers the server below was asked to write, as strings. */
    List<String> written() {
        return delegate.getBody().map(b -> b.toString(StandardCharsets.UTF_8)).collectList().block(Duration.ofSeconds(5));
    }

    @Test
    void aSmallJsonAnswerOfKnownLengthIsWrittenAsOneBuffer() {
        String answer = answer(100);
        json(answer.length());
        response.writeWith(chunks(answer, 16)).block(Duration.ofSeconds(5));
        assertThat(written()).containsExactly(answer);
        assertThat(ctx.usage()).isEqualTo(new TokenUsage(7, 3, true));
    }

    /** Writes the answer in chunks of {@code size} and expects them passed on one by one, usage read. */
    void assertPassedOnChunkByChunk(String answer, int size) {
        response.writeWith(chunks(answer, size)).block(Duration.ofSeconds(5));
        List<String> written = written();
        assertThat(written).hasSize((answer.length() + size - 1) / size);
        assertThat(String.join("", written)).isEqualTo(answer);
        assertThat(ctx.usage()).isEqualTo(new TokenUsage(7, 3, true));
    }

    @Test
    void aLargeJsonAnswerGoesOnChunkByChunk() {
        String answer = answer((int) UsageObservingResponse.JOIN_LIMIT);
        json(answer.length());
        assertPassedOnChunkByChunk(answer, 8192);
    }

    @Test
    void aJsonAnswerWithoutALengthGoesOnChunkByChunk() {
        json(-1);
        assertPassedOnChunkByChunk(answer(100), 16);
    }

    @Test
    void aClientLeavingWhileASmallAnswerIsHeldIsSeenAndChargedWhatArrived() {
        String answer = answer(100);
        json(answer.length());
        delegate.setWriteHandler(body -> body.then()); // a server that writes as the body comes
        Sinks.Many<DataBuffer> backend = Sinks.many().unicast().onBackpressureBuffer();
        DataBuffer first = FACTORY.wrap(answer.substring(0, 40).getBytes(StandardCharsets.UTF_8));
        backend.tryEmitNext(first);
        var writing = response.writeWith(backend.asFlux()).subscribe();
        writing.dispose(); // the client went away before the answer was complete
        assertThat(ctx.isClientCancelled()).isTrue();
        assertThat(ctx.usage()).isNotNull();
        assertThat(ctx.usage().reported()).isFalse(); // the usage had not arrived: the estimate
    }
}
