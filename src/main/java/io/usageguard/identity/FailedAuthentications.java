package io.usageguard.identity;

import io.usageguard.pipeline.GuardContext;

/**
 * Told of every failed authentication, so that repeated failures from one client address can be
 * limited (OWASP API2). The default does nothing.
 */
public interface FailedAuthentications {

    void record(GuardContext ctx);
}
