package io.usageguard.core;

import java.time.Duration;

/** Durations in the form OpenAI's x-ratelimit-reset-* headers use: {@code 1s}, {@code 6m0s}, {@code 20ms}. */
public final class Durations {

    private Durations() {
    }

    public static String openAi(Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            return "0s";
        }
        long millis = d.toMillis();
        if (millis < 1000) {
            return Math.max(1, millis) + "ms";
        }
        long totalSeconds = (millis + 999) / 1000;
        long hours = totalSeconds / 3600;
        long minutes = (totalSeconds % 3600) / 60;
        long seconds = totalSeconds % 60;
        StringBuilder sb = new StringBuilder();
        if (hours > 0) {
            sb.append(hours).append('h').append(minutes).append('m');
        } else if (minutes > 0) {
            sb.append(minutes).append('m');
        }
        return sb.append(seconds).append('s').toString();
    }
}
