package io.usageguard.ratelimit;

/** {@code enforce}: limits refuse. {@code shadow}: nothing is refused, would-be refusals are only recorded. */
public enum LimitMode {
    ENFORCE, SHADOW
}
