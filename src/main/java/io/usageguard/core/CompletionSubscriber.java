package io.usageguard.core;

import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.util.context.Context;

/**
 * The subscriber side of a one-operator step on the request path: it subscribes to a
 * {@code Mono<Void>} (the rest of the chain) on behalf of {@code actual}, asks for everything, and
 * passes a cancellation on, including one that came before the subscription did. Subclasses say
 * what the end means. It may be subscribed more than once in turn (a refusal after a failure): the
 * latest subscription is the one cancelled.
 */
public abstract class CompletionSubscriber implements CoreSubscriber<Void>, Subscription {

    protected final CoreSubscriber<? super Void> actual;
    private volatile Subscription upstream;
    private volatile boolean cancelled;

    protected CompletionSubscriber(CoreSubscriber<? super Void> actual) {
        this.actual = actual;
    }

    @Override
    public Context currentContext() {
        return actual.currentContext();
    }

    @Override
    public void onSubscribe(Subscription s) {
        upstream = s;
        if (cancelled) {
            s.cancel();
        } else {
            s.request(Long.MAX_VALUE);
        }
    }

    @Override
    public void onNext(Void unused) {
    }

    @Override
    public void request(long n) {
        // nothing to emit but the end
    }

    /** Cancels what this is subscribed to, now or as soon as it subscribes. */
    protected final void cancelUpstream() {
        cancelled = true;
        Subscription s = upstream;
        if (s != null) {
            s.cancel();
        }
    }

    protected final boolean isCancelled() {
        return cancelled;
    }
}
