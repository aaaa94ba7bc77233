package io.usageguard.metering;

/** Totals of one usage row: requests allowed and rejected, and the tokens metered for them. */
public record UsageCounts(long requests, long rejectedRequests, long promptTokens, long completionTokens) {

    public static final UsageCounts ZERO = new UsageCounts(0, 0, 0, 0);

    public UsageCounts plus(UsageCounts o) {
        return new UsageCounts(requests + o.requests, rejectedRequests + o.rejectedRequests,
                promptTokens + o.promptTokens, completionTokens + o.completionTokens);
    }

    public boolean isZero() {
        return requests == 0 && rejectedRequests == 0 && promptTokens == 0 && completionTokens == 0;
    }

    /** Requests of any outcome: what is lost when this row has to be dropped. */
    public long allRequests() {
        return requests + rejectedRequests;
    }
}
