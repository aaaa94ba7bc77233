package io.usageguard.usage;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.usageguard.pipeline.GuardContext;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferFactory;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.http.server.reactive.ServerHttpResponseDecorator;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.core.publisher.SignalType;

/**
 * The response of one inference request, observed as it passes: every chunk of the backend's body
 * goes on to the client at once, while a parser reads the usage from it (SSE or JSON). When the
 * body ends, is cancelled by the client or fails, the request's {@link GuardContext#usage()} is
 * set: the backend's numbers when it reported them, otherwise the gateway's estimate.
 *
 * <p>When the gateway itself asked the backend for usage in a stream, the usage-only chunk
 * ({@code "choices":[]} with a usage object) is removed: to know whether an event is that chunk, an
 * incomplete event is held back until its terminating empty line arrives (at most
 * {@code max-held-event-size}, after which it is passed on as it comes). A client reads nothing of
 * an event before that empty line anyway, so this adds no delay a client could see.
 *
 * <p>Only 2xx answers are observed; for others no usage is set. An encoded body
 * ({@code Content-Encoding} other than identity) is not parsed and is charged the estimate.
 */
final class UsageObservingResponse extends ServerHttpResponseDecorator {

    private static final Logger log = LoggerFactory.getLogger(UsageObservingResponse.class);

    private final GuardContext ctx;
    private final UsageProperties properties;
    private final boolean removeUsageChunk;
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile BodyObserver observer;

    UsageObservingResponse(ServerHttpResponse delegate, GuardContext ctx, UsageProperties properties,
                           boolean removeUsageChunk) {
        super(delegate);
        this.ctx = ctx;
        this.properties = properties;
        this.removeUsageChunk = removeUsageChunk;
    }

    @Override
    public Mono<Void> writeWith(Publisher<? extends DataBuffer> body) {
        BodyObserver o = begin();
        if (o == null) {
            return super.writeWith(body);
        }
        if (o instanceof JsonBody && joinable()) {
            // a Mono: reactor-netty writes the status line, headers and body in one write
            return super.writeWith(new Joined(body, o));
        }
        return super.writeWith(observe(Flux.from(body), o));
    }

    /**
     * A JSON answer of a known length up to {@link #JOIN_LIMIT} is passed on as one buffer once it
     * has arrived: its client can use none of it before the end anyway, and reactor-netty then
     * writes headers and body in one system call instead of two (measured in bench/RESULTS.md).
     * Larger answers, and answers without a length, go on chunk by chunk.
     */
    static final long JOIN_LIMIT = 64 * 1024;

    private boolean joinable() {
        long length = getHeaders().getContentLength();
        return length >= 0 && length <= JOIN_LIMIT;
    }

    @Override
    public Mono<Void> writeAndFlushWith(Publisher<? extends Publisher<? extends DataBuffer>> body) {
        BodyObserver o = begin();
        if (o == null) {
            return super.writeAndFlushWith(body);
        }
        // flattened so that each chunk is observed before the next one, and all before completion;
        // each chunk is still flushed on its own
        Flux<DataBuffer> chunks = Flux.from(body).concatMap(Flux::from);
        return super.writeAndFlushWith(observe(chunks, o).map(Flux::just));
    }

    /** Chooses how to read this body; null when it is not observed (not 2xx, or a second write). */
    private BodyObserver begin() {
        if (observer != null || finished.get()) {
            return null;
        }
        HttpStatusCode status = getStatusCode();
        if (status == null || !status.is2xxSuccessful()) {
            return null;
        }
        HttpHeaders headers = getHeaders();
        String encoding = headers.getFirst(HttpHeaders.CONTENT_ENCODING);
        MediaType type = null;
        try {
            type = headers.getContentType();
        } catch (RuntimeException e) {
            // an unparseable Content-Type: observed as "other"
        }
        BodyObserver o;
        if (encoding != null && !encoding.isBlank() && !"identity".equalsIgnoreCase(encoding.trim())) {
            o = new OtherBody();
        } else if (type != null && MediaType.TEXT_EVENT_STREAM.isCompatibleWith(type)) {
            o = removeUsageChunk
                    ? new SseBodyRemovingUsage(properties.maxEventSize().toBytes(), (int) Math.min(Integer.MAX_VALUE,
                            properties.maxHeldEventSize().toBytes()), bufferFactory())
                    : new SseBody(properties.maxEventSize().toBytes());
            if (removeUsageChunk) {
                headers.remove(HttpHeaders.CONTENT_LENGTH); // the body gets shorter
            }
        } else if (type == null || type.getSubtype().equals("json") || type.getSubtype().endsWith("+json")) {
            o = new JsonBody();
        } else {
            o = new OtherBody();
        }
        observer = o;
        return o;
    }

    private Flux<DataBuffer> observe(Flux<DataBuffer> body, BodyObserver o) {
        return body.<DataBuffer>handle((buffer, sink) -> {
                    DataBuffer out = o.pass(buffer);
                    if (out != null) {
                        sink.next(out);
                    }
                })
                .concatWith(Mono.defer(() -> {
                    o.end();
                    finish();
                    return Mono.justOrEmpty(o.tail(bufferFactory()));
                }))
                .doOnCancel(() -> {
                    ctx.clientCancelled();
                    finish();
                })
                .doOnError(e -> finish());
    }

    /**
     * The body observed and joined into one buffer by one subscriber: what {@code observe} followed by
     * {@code DataBufferUtils.join} does with eight operators (measured in bench/RESULTS.md). Each chunk
     * is read by the observer as it arrives; the joined buffer is emitted when the body ends.
     */
    private final class Joined extends Mono<DataBuffer> {

        private final Publisher<? extends DataBuffer> body;
        private final BodyObserver observer;

        Joined(Publisher<? extends DataBuffer> body, BodyObserver observer) {
            this.body = body;
            this.observer = observer;
        }

        @Override
        public void subscribe(CoreSubscriber<? super DataBuffer> actual) {
            body.subscribe(new Joiner(actual, observer));
        }
    }

    private final class Joiner extends Operators.MonoSubscriber<DataBuffer, DataBuffer> {

        private final BodyObserver observer;
        private Subscription upstream;
        /** The chunks so far; null once the body ended, failed or was cancelled. Guarded by {@code this}. */
        private List<DataBuffer> parts = new ArrayList<>(2);

        Joiner(CoreSubscriber<? super DataBuffer> actual, BodyObserver observer) {
            super(actual);
            this.observer = observer;
        }

        @Override
        public void onSubscribe(Subscription s) {
            if (Operators.validate(upstream, s)) {
                upstream = s;
                actual.onSubscribe(this);
                s.request(Long.MAX_VALUE);
            }
        }

        @Override
        public void onNext(DataBuffer buffer) {
            synchronized (this) {
                if (parts != null) {
                    DataBuffer out = observer.pass(buffer);
                    if (out != null) {
                        parts.add(out);
                    }
                    return;
                }
            }
            DataBufferUtils.release(buffer); // arrived after a cancel
        }

        @Override
        public void onError(Throwable t) {
            if (!release()) {
                Operators.onErrorDropped(t, actual.currentContext());
                return;
            }
            finish();
            actual.onError(t);
        }

        @Override
        public void onComplete() {
            List<DataBuffer> all = takeParts();
            if (all == null) {
                return;
            }
            observer.end();
            finish();
            DataBuffer tail = observer.tail(bufferFactory());
            if (tail != null) {
                all.add(tail);
            }
            if (all.isEmpty()) {
                actual.onComplete();
            } else {
                complete(all.size() == 1 ? all.get(0) : bufferFactory().join(all));
            }
        }

        @Override
        public void cancel() {
            super.cancel();
            upstream.cancel();
            if (release()) {
                ctx.clientCancelled();
                finish();
            }
        }

        /** Gives back the chunks held; false when the body had already ended. */
        private boolean release() {
            List<DataBuffer> held = takeParts();
            if (held == null) {
                return false;
            }
            held.forEach(DataBufferUtils::release);
            return true;
        }

        /** The chunks so far, now no longer held here; null if the body already ended, failed or was cancelled. */
        private synchronized List<DataBuffer> takeParts() {
            List<DataBuffer> held = parts;
            parts = null;
            return held;
        }
    }

    /** Sets the usage from what was observed; once. */
    private void finish() {
        BodyObserver o = observer;
        if (o != null && finished.compareAndSet(false, true)) {
            ctx.usage(o.usage(Math.max(0, ctx.promptTokenEstimate()), properties));
        }
    }

    /**
     * The request is over (called by {@link UsageFilter} when everything after it has ended). Covers
     * what the body did not: a client gone before the answer started is charged the prompt estimate
     * (the backend had the prompt), as is a 2xx answer without a body.
     */
    void requestEnded(SignalType signal) {
        if (finished.get()) {
            return;
        }
        if (observer != null) {
            finish();
            return;
        }
        HttpStatusCode status = getStatusCode();
        boolean emptySuccess = signal == SignalType.ON_COMPLETE && status != null && status.is2xxSuccessful()
                && ctx.error() == null;
        if ((signal == SignalType.CANCEL || emptySuccess) && finished.compareAndSet(false, true)) {
            ctx.usage(new TokenUsage(Math.max(0, ctx.promptTokenEstimate()), 0, false));
        }
    }

    /** How one kind of body is read. Implementations never let a parser failure reach the stream. */
    private abstract static class BodyObserver {

        boolean broken;

        /** The chunk for the client (this one, a new one, or null to send nothing now). */
        abstract DataBuffer pass(DataBuffer buffer);

        /** The body ended: finish parsing. */
        void end() {
        }

        /** Bytes still held back when the body ended. */
        DataBuffer tail(DataBufferFactory factory) {
            return null;
        }

        abstract TokenUsage usage(long promptEstimate, UsageProperties properties);

        void failed(RuntimeException e) {
            if (!broken) {
                broken = true;
                // never the exception's message: nothing of the body may reach a log
                log.warn("usage parser failed ({}); this request is charged the estimate", e.getClass().getName());
            }
        }
    }

    /** Any 2xx body we do not parse (e.g. images, encoded bodies): the prompt estimate. */
    private static final class OtherBody extends BodyObserver {
        @Override
        DataBuffer pass(DataBuffer buffer) {
            return buffer;
        }

        @Override
        TokenUsage usage(long promptEstimate, UsageProperties properties) {
            return new TokenUsage(promptEstimate, 0, false);
        }
    }

    /** A JSON answer: its top-level usage, read incrementally in constant memory. */
    private static final class JsonBody extends BodyObserver {
        private final JsonUsageScanner scanner = new JsonUsageScanner();

        @Override
        DataBuffer pass(DataBuffer buffer) {
            if (!broken) {
                try (DataBuffer.ByteBufferIterator it = buffer.readableByteBuffers()) {
                    while (it.hasNext()) {
                        scanner.feed(it.next());
                    }
                } catch (RuntimeException e) {
                    failed(e);
                }
            }
            return buffer;
        }

        @Override
        void end() {
            scanner.finish();
        }

        @Override
        TokenUsage usage(long promptEstimate, UsageProperties properties) {
            long completionEstimate = properties.estimateTokens(scanner.textChars());
            if (!broken && scanner.usageSeen()) {
                return new TokenUsage(scanner.promptTokens() >= 0 ? scanner.promptTokens() : promptEstimate,
                        scanner.completionTokens() >= 0 ? scanner.completionTokens() : completionEstimate, true);
            }
            return new TokenUsage(promptEstimate, completionEstimate, false);
        }
    }

    /** An SSE stream, passed on chunk by chunk unchanged. */
    private static class SseBody extends BodyObserver {
        final SseUsageParser parser;

        SseBody(long maxEventBytes) {
            this.parser = new SseUsageParser(maxEventBytes);
        }

        @Override
        DataBuffer pass(DataBuffer buffer) {
            if (!broken) {
                try (DataBuffer.ByteBufferIterator it = buffer.readableByteBuffers()) {
                    while (it.hasNext()) {
                        parser.feed(it.next());
                    }
                } catch (RuntimeException e) {
                    failed(e);
                }
            }
            return buffer;
        }

        @Override
        void end() {
            if (!broken) {
                try {
                    parser.finish();
                } catch (RuntimeException e) {
                    failed(e);
                }
            }
        }

        @Override
        TokenUsage usage(long promptEstimate, UsageProperties properties) {
            long completionEstimate = Math.max(parser.textEvents(), properties.estimateTokens(parser.textChars()));
            if (!broken && parser.usageSeen()) {
                return new TokenUsage(parser.promptTokens() >= 0 ? parser.promptTokens() : promptEstimate,
                        parser.completionTokens() >= 0 ? parser.completionTokens() : completionEstimate, true);
            }
            return new TokenUsage(promptEstimate, completionEstimate, false);
        }
    }

    /**
     * An SSE stream whose client did not ask for usage: complete events go on as soon as they are
     * complete, except the usage-only chunk the gateway asked for.
     */
    private static final class SseBodyRemovingUsage extends SseBody {
        private final UsageChunkRemover remover;
        private final DataBufferFactory factory;

        SseBodyRemovingUsage(long maxEventBytes, int maxHeld, DataBufferFactory factory) {
            super(maxEventBytes);
            this.remover = new UsageChunkRemover(parser, maxHeld);
            this.factory = factory;
        }

        @Override
        DataBuffer pass(DataBuffer buffer) {
            byte[] bytes = new byte[buffer.readableByteCount()];
            buffer.read(bytes);
            DataBufferUtils.release(buffer);
            byte[] out;
            try {
                out = remover.pass(bytes);
            } catch (UsageChunkRemover.ParserFailure e) {
                failed((RuntimeException) e.getCause());
                out = e.output();
            }
            return out.length == 0 ? null : factory.wrap(out);
        }

        @Override
        TokenUsage usage(long promptEstimate, UsageProperties properties) {
            if (remover.broken()) {
                broken = true;
            }
            return super.usage(promptEstimate, properties);
        }

        @Override
        DataBuffer tail(DataBufferFactory ignored) {
            byte[] rest = remover.flush();
            return rest.length == 0 ? null : factory.wrap(rest);
        }
    }
}
