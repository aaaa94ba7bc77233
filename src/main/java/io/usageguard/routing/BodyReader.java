package io.usageguard.routing;

import java.util.Arrays;
import java.util.function.Function;

import io.usageguard.core.CompletionSubscriber;
import org.reactivestreams.Subscription;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * Reads a request body into one byte array, failing as soon as it passes {@code maxBytes}, then goes
 * on with what comes next. Each chunk is copied and released as it arrives, so nothing is held if
 * the client goes away. One operator does what {@code DataBufferUtils.join} plus a copy plus a
 * {@code flatMap} to the rest of the chain do with a dozen subscribers (each of which consults the
 * subscriber context on every signal): on the request path that difference is measurable.
 */
final class BodyReader implements CoreSubscriber<DataBuffer>, Subscription {

    private static final byte[] EMPTY = new byte[0];

    private final CoreSubscriber<? super Void> actual;
    private final int maxBytes;
    private final RuntimeException tooLarge;
    private final Function<byte[], Mono<Void>> then;
    private final Rest rest;
    private Subscription body;
    private byte[] bytes = EMPTY;
    private int length;
    private volatile boolean done;
    private volatile boolean cancelled;

    private BodyReader(CoreSubscriber<? super Void> actual, int maxBytes, RuntimeException tooLarge,
                       Function<byte[], Mono<Void>> then) {
        this.actual = actual;
        this.maxBytes = maxBytes;
        this.tooLarge = tooLarge;
        this.then = then;
        this.rest = new Rest(actual);
    }

    /**
     * Reads the body (empty when there is none) and subscribes to {@code then} of its bytes; fails
     * with {@code tooLarge} as soon as more than {@code maxBytes} arrived. {@code expectedLength} (the
     * declared Content-Length, or -1) sizes the array up front.
     */
    static Mono<Void> read(Flux<DataBuffer> body, int maxBytes, long expectedLength, RuntimeException tooLarge,
                           Function<byte[], Mono<Void>> then) {
        return new Mono<>() {
            @Override
            public void subscribe(CoreSubscriber<? super Void> actual) {
                BodyReader reader = new BodyReader(actual, maxBytes, tooLarge, then);
                if (expectedLength > 0 && expectedLength <= maxBytes) {
                    reader.bytes = new byte[(int) expectedLength];
                }
                actual.onSubscribe(reader);
                body.subscribe(reader);
            }
        };
    }

    @Override
    public Context currentContext() {
        return actual.currentContext();
    }

    @Override
    public void onSubscribe(Subscription s) {
        if (Operators.validate(body, s)) {
            body = s;
            if (cancelled) {
                s.cancel();
            } else {
                s.request(Long.MAX_VALUE);
            }
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
                body.cancel();
                actual.onError(tooLarge);
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
        if (done) {
            Operators.onErrorDropped(t, actual.currentContext());
            return;
        }
        done = true;
        actual.onError(t);
    }

    @Override
    public void onComplete() {
        if (done) {
            return;
        }
        done = true;
        if (cancelled) {
            return;
        }
        Mono<Void> next;
        try {
            next = then.apply(length == bytes.length ? bytes : Arrays.copyOf(bytes, length));
        } catch (Throwable e) {
            actual.onError(Operators.onOperatorError(e, actual.currentContext()));
            return;
        }
        next.subscribe(rest);
    }

    @Override
    public void request(long n) {
        // nothing to emit but the end
    }

    @Override
    public void cancel() {
        cancelled = true;
        rest.cancel();
        if (!done && body != null) {
            body.cancel();
        }
    }

    /** What comes after the body: its end is the end. */
    private static final class Rest extends CompletionSubscriber {

        Rest(CoreSubscriber<? super Void> actual) {
            super(actual);
        }

        @Override
        public void onError(Throwable t) {
            actual.onError(t);
        }

        @Override
        public void onComplete() {
            actual.onComplete();
        }

        @Override
        public void cancel() {
            cancelUpstream();
        }
    }
}
