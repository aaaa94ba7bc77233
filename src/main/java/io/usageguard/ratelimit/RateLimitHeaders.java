package io.usageguard.ratelimit;

import java.time.Duration;

import io.usageguard.core.Durations;
import org.springframework.http.HttpHeaders;

/**
 * The headers clients' SDKs read, from the tightest applicable request limit and token limit (the
 * account's windows and the key's cap; the global ceiling is not shown):
 * <ul>
 *   <li>OpenAI's {@code x-ratelimit-{limit,remaining,reset}-{requests,tokens}}, resets as {@code 6m0s};</li>
 *   <li>draft-ietf-httpapi-ratelimit-headers-10: {@code RateLimit-Policy: "rpm";q=60;w=60, "tpm";q=40000;w=60;qu="tokens"}
 *       and {@code RateLimit: "rpm";r=59;t=1, "tpm";r=39000;t=2} (structured-field lists; the policy
 *       name is the window, prefixed {@code key-} for a per-key cap; {@code t} in whole seconds until the
 *       window is full again).</li>
 * </ul>
 * The tightest limit is the one with the fewest remaining; among equals, the smaller limit.
 */
final class RateLimitHeaders {

    private RateLimitHeaders() {
    }

    /** One window's state as shown to the client. */
    record Shown(String name, long limit, long remaining, long resetNanos, Window window) {
    }

    static void apply(HttpHeaders headers, Admission a) {
        Shown requests = tightest(a, Window.Unit.REQUESTS);
        Shown tokens = tightest(a, Window.Unit.TOKENS);
        StringBuilder policy = new StringBuilder();
        StringBuilder state = new StringBuilder();
        if (requests != null) {
            headers.set("x-ratelimit-limit-requests", Long.toString(requests.limit()));
            headers.set("x-ratelimit-remaining-requests", Long.toString(requests.remaining()));
            headers.set("x-ratelimit-reset-requests", Durations.openAi(Duration.ofNanos(requests.resetNanos())));
            append(policy, state, requests, null);
        }
        if (tokens != null) {
            headers.set("x-ratelimit-limit-tokens", Long.toString(tokens.limit()));
            headers.set("x-ratelimit-remaining-tokens", Long.toString(tokens.remaining()));
            headers.set("x-ratelimit-reset-tokens", Durations.openAi(Duration.ofNanos(tokens.resetNanos())));
            append(policy, state, tokens, "tokens");
        }
        if (!policy.isEmpty()) {
            headers.set("RateLimit-Policy", policy.toString());
            headers.set("RateLimit", state.toString());
        }
    }

    private static void append(StringBuilder policy, StringBuilder state, Shown s, String unit) {
        if (!policy.isEmpty()) {
            policy.append(", ");
            state.append(", ");
        }
        policy.append('"').append(s.name()).append("\";q=").append(s.limit())
                .append(";w=").append(s.window().length().toSeconds());
        if (unit != null) {
            policy.append(";qu=\"").append(unit).append('"');
        }
        long seconds = (s.resetNanos() + 999_999_999L) / 1_000_000_000L;
        state.append('"').append(s.name()).append("\";r=").append(s.remaining()).append(";t=").append(seconds);
    }

    static Shown tightest(Admission a, Window.Unit unit) {
        BucketSpec bestSpec = null;
        int bestWindow = -1;
        long bestLimit = 0;
        long bestRemaining = 0;
        long bestReset = 0;
        for (Admission.Use use : a.uses) {
            BucketSpec spec = use.spec;
            if (spec.unit() != unit || spec.scope() == Scope.GLOBAL || use.result == null) {
                continue;
            }
            boolean key = spec.scope() == Scope.KEY;
            double factor = key ? Math.max(0, Math.min(1.0, a.keyFactor)) : 1.0;
            long[] available = use.result.available();
            for (int i = 0; i < spec.windows().length; i++) {
                long cap = spec.limits()[i];
                long avail = i < available.length ? available[i] : 0;
                if (use.undone) {
                    avail += use.amount;
                }
                avail = Math.max(0, Math.min(cap, avail));
                long limit = factor == 1.0 ? cap : (long) Math.floor(cap * factor);
                long remaining = factor == 1.0 ? avail : (long) Math.floor(avail * factor);
                if (bestSpec == null || remaining < bestRemaining || (remaining == bestRemaining && limit < bestLimit)) {
                    long windowNanos = spec.windows()[i].length().toNanos();
                    bestSpec = spec;
                    bestWindow = i;
                    bestLimit = limit;
                    bestRemaining = remaining;
                    bestReset = cap == 0 ? windowNanos : (long) ((double) (cap - avail) * windowNanos / cap);
                }
            }
        }
        if (bestSpec == null) {
            return null;
        }
        Window w = bestSpec.windows()[bestWindow];
        return new Shown(bestSpec.scope() == Scope.KEY ? "key-" + w.id() : w.id(), bestLimit, bestRemaining, bestReset, w);
    }
}
