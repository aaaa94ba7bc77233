package io.usageguard.routing;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.NettyDataBufferFactory;
import org.springframework.core.io.buffer.PooledDataBuffer;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The body read once under its cap: chunks joined in order, every buffer released, the cap enforced as bytes arrive. */
class BodyReaderTest {

    private static final NettyDataBufferFactory BUFFERS = new NettyDataBufferFactory(PooledByteBufAllocator.DEFAULT);
    private static final RuntimeException TOO_LARGE = new IllegalStateException("too large");

    private final List<DataBuffer> handedOut = new ArrayList<>();

    private DataBuffer chunk(String s) {
        DataBuffer b = BUFFERS.wrap(io.netty.buffer.Unpooled.copiedBuffer(s, StandardCharsets.UTF_8));
        handedOut.add(b);
        return b;
    }

    /** The bytes the reader hands on (the rest of the chain here only keeps them). */
    private static Mono<byte[]> read(Flux<DataBuffer> body, int maxBytes, long declared, RuntimeException tooLarge) {
        AtomicReference<byte[]> read = new AtomicReference<>();
        return BodyReader.read(body, maxBytes, declared, tooLarge, bytes -> {
            read.set(bytes);
            return Mono.empty();
        }).then(Mono.fromSupplier(read::get));
    }

    private void assertAllReleased() {
        for (DataBuffer b : handedOut) {
            assertThat(((PooledDataBuffer) b).isAllocated()).as("buffer released").isFalse();
        }
    }

    @Test
    void joinsChunksInOrderWhateverTheDeclaredLength() {
        for (long declared : new long[]{-1, 3, 11, 100}) {
            byte[] body = read(Flux.just(chunk("hello"), chunk(", "), chunk("world")), 1024, declared, TOO_LARGE)
                    .block();
            assertThat(new String(body, StandardCharsets.UTF_8)).isEqualTo("hello, world");
        }
        assertAllReleased();
    }

    @Test
    void noBodyIsAnEmptyArray() {
        assertThat(read(Flux.empty(), 1024, -1, TOO_LARGE).block()).isEmpty();
    }

    @Test
    void refusesAsSoonAsTheCapIsPassedAndReleasesEverything() {
        List<String> requested = new ArrayList<>();
        Flux<DataBuffer> body = Flux.just("12345", "67890", "never read").map(this::chunk)
                .doOnNext(b -> requested.add(b.toString(StandardCharsets.UTF_8)));
        assertThatThrownBy(() -> read(body, 8, -1, TOO_LARGE).block()).isSameAs(TOO_LARGE);
        assertThat(requested).containsExactly("12345", "67890"); // cancelled at the chunk that passed the cap
        assertAllReleased();
        // exactly at the cap is fine
        assertThat(read(Flux.just(chunk("1234"), chunk("5678")), 8, 8, TOO_LARGE).block()).hasSize(8);
    }

    @Test
    void theRestRunsOnceWithTheBodyAndItsEndIsTheEnd() {
        RuntimeException refused = new IllegalStateException("refused by a later guard");
        List<String> seen = new ArrayList<>();
        assertThatThrownBy(() -> BodyReader.read(Flux.just(chunk("{}")), 1024, -1, TOO_LARGE, bytes -> {
            seen.add(new String(bytes, StandardCharsets.UTF_8));
            return Mono.error(refused);
        }).block()).isSameAs(refused);
        assertThat(seen).containsExactly("{}");
        assertAllReleased();
    }

    @Test
    void aClientGoneWhileTheBodyArrivesCancelsItAndTheRestNeverRuns() {
        java.util.concurrent.atomic.AtomicBoolean bodyCancelled = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicBoolean restRan = new java.util.concurrent.atomic.AtomicBoolean();
        Flux<DataBuffer> body = Flux.concat(Flux.just(chunk("half a bo")), Flux.<DataBuffer>never())
                .doOnCancel(() -> bodyCancelled.set(true));
        reactor.core.Disposable request = BodyReader.read(body, 1024, -1, TOO_LARGE, bytes -> {
            restRan.set(true);
            return Mono.empty();
        }).subscribe();
        request.dispose();
        assertThat(bodyCancelled).isTrue();
        assertThat(restRan).isFalse();
        assertAllReleased();
    }
}
