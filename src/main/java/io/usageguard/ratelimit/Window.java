package io.usageguard.ratelimit;

import java.time.Duration;

/** The seven windows of the platform's published scheme (contract §3). */
public enum Window {
    RPM(Unit.REQUESTS, Duration.ofMinutes(1), "requests per minute"),
    RPH(Unit.REQUESTS, Duration.ofHours(1), "requests per hour"),
    RPD(Unit.REQUESTS, Duration.ofDays(1), "requests per day"),
    TPM(Unit.TOKENS, Duration.ofMinutes(1), "tokens per minute"),
    TPD(Unit.TOKENS, Duration.ofDays(1), "tokens per day"),
    IPM(Unit.IMAGES, Duration.ofMinutes(1), "images per minute"),
    IPD(Unit.IMAGES, Duration.ofDays(1), "images per day");

    public enum Unit {
        REQUESTS("req"), TOKENS("tok"), IMAGES("img");

        final String suffix;

        Unit(String suffix) {
            this.suffix = suffix;
        }
    }

    private final Unit unit;
    private final Duration length;
    private final String description;
    private final String id;

    Window(Unit unit, Duration length, String description) {
        this.unit = unit;
        this.length = length;
        this.description = description;
        this.id = name().toLowerCase(java.util.Locale.ROOT);
    }

    public Unit unit() {
        return unit;
    }

    public Duration length() {
        return length;
    }

    /** {@code rpm}, {@code tpd}, ...: the config key and the bandwidth id. */
    public String id() {
        return id;
    }

    /** "requests per minute (RPM)". */
    public String describe() {
        return description + " (" + name() + ")";
    }

    /** Daily windows are quotas: their refusal is {@code quota_exceeded}. */
    public boolean daily() {
        return length.equals(Duration.ofDays(1));
    }
}
