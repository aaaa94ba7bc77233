package io.usageguard.backend;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

import io.netty.channel.EventLoop;
import io.usageguard.core.CompletionSubscriber;
import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.core.NativeRequests;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter.GuardChain;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ResponseStatusException;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.core.scheduler.Schedulers;
import reactor.netty.Connection;

/**
 * One call to a backend, from the last guard to the end of the answer, in a single operator: the
 * rest of the chain runs inside it, a timer bounds it, its failures become the contract's errors, and
 * its outcome reaches the backend's breaker and bulkhead exactly once. It does what
 * {@code defer + timeout + onErrorMap × 2 + doOnError + doOnCancel + doOnSuccess + doFinally} did,
 * without those eight subscribers per request, and its timer runs on the request's own event loop
 * instead of Reactor's shared timer pool (measured in bench/RESULTS.md).
 *
 * <p>Timeouts: a call that is not a stream must end within {@code timeout}; a stream must start (the
 * response be committed) within {@code first-byte-timeout}, after which no timer cuts it.
 */
final class BackendCall extends Mono<Void> {

    static final GuardRejection TIMEOUT = new GuardRejection(ErrorCode.UPSTREAM_TIMEOUT,
            "The model backend did not answer in time.");
    static final GuardRejection STREAM_TIMEOUT = new GuardRejection(ErrorCode.UPSTREAM_TIMEOUT,
            "The model backend did not start the stream in time.");

    private final GuardContext ctx;
    private final GuardChain chain;
    private final BackendPool.Lease lease;
    private final boolean stream;
    private final Duration limit;

    BackendCall(GuardContext ctx, GuardChain chain, BackendPool.Lease lease, boolean stream, Duration limit) {
        this.ctx = ctx;
        this.chain = chain;
        this.lease = lease;
        this.stream = stream;
        this.limit = limit;
    }

    @Override
    public void subscribe(CoreSubscriber<? super Void> actual) {
        Call call = new Call(actual, ctx.exchange().getResponse(), lease, stream);
        actual.onSubscribe(call);
        call.timer = schedule(call, limit);
        Mono<Void> rest;
        try {
            rest = chain.next(ctx);
        } catch (Throwable e) {
            call.onError(Operators.onOperatorError(e, actual.currentContext()));
            return;
        }
        rest.subscribe(call);
    }

    /** On the event loop of the request's connection when there is one (always, behind Netty). */
    private Disposable schedule(Runnable task, Duration delay) {
        if (NativeRequests.of(ctx.exchange().getRequest()) instanceof Connection connection) {
            EventLoop loop = connection.channel().eventLoop();
            var future = loop.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
            return () -> future.cancel(false);
        }
        return Schedulers.parallel().schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
    }

    static final class Call extends CompletionSubscriber implements Runnable {

        private static final AtomicIntegerFieldUpdater<Call> DONE =
                AtomicIntegerFieldUpdater.newUpdater(Call.class, "done");

        private final ServerHttpResponse response;
        private final BackendPool.Lease lease;
        private final boolean stream;
        private volatile int done;
        volatile Disposable timer;

        Call(CoreSubscriber<? super Void> actual, ServerHttpResponse response, BackendPool.Lease lease, boolean stream) {
            super(actual);
            this.response = response;
            this.lease = lease;
            this.stream = stream;
        }

        @Override
        public void onComplete() {
            if (!DONE.compareAndSet(this, 0, 1)) {
                return;
            }
            stopTimer();
            lease.answered(status(response));
            lease.release();
            actual.onComplete();
        }

        @Override
        public void onError(Throwable t) {
            if (!DONE.compareAndSet(this, 0, 1)) {
                Operators.onErrorDropped(t, actual.currentContext());
                return;
            }
            stopTimer();
            Throwable e = translate(t);
            if (isBackendFault(e)) {
                lease.failed(e);
            } else {
                lease.abandoned();
            }
            lease.release();
            actual.onError(e);
        }

        /** The client went away (or everything downstream was cancelled): no verdict on the backend. */
        @Override
        public void cancel() {
            if (!DONE.compareAndSet(this, 0, 1)) {
                return;
            }
            stopTimer();
            cancelUpstream();
            lease.abandoned();
            lease.release();
        }

        /** The timer fired. */
        @Override
        public void run() {
            if (stream && response.isCommitted()) {
                return; // the stream has started: it is never cut
            }
            if (!DONE.compareAndSet(this, 0, 1)) {
                return;
            }
            cancelUpstream();
            GuardRejection e = stream ? STREAM_TIMEOUT : TIMEOUT;
            lease.failed(e);
            lease.release();
            actual.onError(e);
        }

        private void stopTimer() {
            Disposable t = timer;
            if (t != null) {
                t.dispose();
            }
        }

        private Throwable translate(Throwable t) {
            if (t instanceof TimeoutException) {
                return stream ? STREAM_TIMEOUT : TIMEOUT;
            }
            if (isConnectionFault(t)) {
                return new GuardRejection(ErrorCode.UPSTREAM_UNAVAILABLE, "The model backend closed the connection.");
            }
            return t;
        }
    }

    static int status(ServerHttpResponse response) {
        HttpStatusCode status = response.getStatusCode();
        return status == null ? 200 : status.value();
    }

    /** Socket-level failures talking to the backend (not timeouts, not HTTP answers). */
    static boolean isConnectionFault(Throwable e) {
        if (e instanceof GuardRejection || e instanceof ResponseStatusException) {
            return false;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getClass().getSimpleName().equals("AbortedException")) {
                return false; // the client's connection, not the backend's
            }
            if (t instanceof IOException) {
                return true; // connection refused, reset, closed before the answer (PrematureCloseException)
            }
        }
        return false;
    }

    /** Whether an error says something about the backend's health (else, e.g. an unknown URL, it does not). */
    static boolean isBackendFault(Throwable e) {
        if (e instanceof GuardRejection r) {
            return r.code() == ErrorCode.UPSTREAM_TIMEOUT || r.code() == ErrorCode.UPSTREAM_UNAVAILABLE;
        }
        if (e instanceof ResponseStatusException rse) {
            return rse.getStatusCode().is5xxServerError();
        }
        return false;
    }
}
