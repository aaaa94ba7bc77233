package io.usageguard.routing;

import java.util.Arrays;

import org.reactivestreams.Subscription;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.publisher.Operators;

/**
 * Reads a request body into one byte array, failing as soon as it passes {@code maxBytes}. Each
 * chunk is copied and released as it arrives, so nothing is held if the client goes away. One
 * subscriber does what {@code DataBufferUtils.join} plus a copy do with a chain of operators (each
 * of which consults the subscriber context on every signal): on the request path that difference is
 * measurable.
 */
final class BodyReader implements CoreSubscriber<DataBuffer> {

    private static final byte[] EMPTY = new byte[0];

    private final MonoSink<byte[]> sink;
    private final int maxBytes;
    private final RuntimeException tooLarge;
    private Subscription subscription;
    private byte[] bytes = EMPTY;
    private int length;
    private volatile boolean done;

    private BodyReader(MonoSink<byte[]> sink, int maxBytes, RuntimeException tooLarge) {
        this.sink = sink;
        this.maxBytes = maxBytes;
        this.tooLarge = tooLarge;
    }

    /**
     * The body's bytes (empty when there is none), or {@code tooLarge} as soon as more than
     * {@code maxBytes} arrived. {@code expectedLength} (the declared Content-Length, or -1) sizes the
     * array up front.
     */
    static Mono<byte[]> read(Flux<DataBuffer> body, int maxBytes, long expectedLength, RuntimeException tooLarge) {
        return Mono.create(sink -> {
            BodyReader reader = new BodyReader(sink, maxBytes, tooLarge);
            if (expectedLength > 0 && expectedLength <= maxBytes) {
                reader.bytes = new byte[(int) expectedLength];
            }
            sink.onDispose(reader::cancel);
            body.subscribe(reader);
        });
    }

    @Override
    public void onSubscribe(Subscription s) {
        if (Operators.validate(subscription, s)) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }
    }

    @Override
    public void onNext(DataBuffer buffer) {
        try {
            if (done) {
                return;
            }
            int n = buffer.readableByteCount();
            if (n > maxBytes - length) {
                done = true;
                subscription.cancel();
                sink.error(tooLarge);
                return;
            }
            if (length + n > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.min(maxBytes, Math.max(length + n, bytes.length * 2)));
            }
            buffer.read(bytes, length, n);
            length += n;
        } finally {
            DataBufferUtils.release(buffer);
        }
    }

    @Override
    public void onError(Throwable t) {
        if (!done) {
            done = true;
            sink.error(t);
        }
    }

    @Override
    public void onComplete() {
        if (!done) {
            done = true;
            sink.success(length == bytes.length ? bytes : Arrays.copyOf(bytes, length));
        }
    }

    private void cancel() {
        Subscription s = subscription;
        if (s != null && !done) {
            done = true;
            s.cancel();
        }
    }
}
