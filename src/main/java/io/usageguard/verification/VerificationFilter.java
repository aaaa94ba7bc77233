package io.usageguard.verification;

import io.usageguard.account.Account;
import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import io.usageguard.routing.ModelRoute;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Real-name verification (agreement §1.4, privacy policy §1.1.2): each model needs a level; an
 * account asked to re-verify is refused until it has.
 */
@Component
public class VerificationFilter implements GuardFilter {

    private static final GuardRejection REVERIFY = new GuardRejection(ErrorCode.REAL_NAME_VERIFICATION_REQUIRED,
            "This account must complete real-name re-verification before it can use the service again.");

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        ModelRoute route = ctx.route();
        if (route == null) {
            return chain.next(ctx);
        }
        Account account = ctx.account();
        if (account.reverificationRequired()) {
            return Mono.error(REVERIFY);
        }
        VerificationLevel required = route.entry().minVerification();
        if (!account.verification().satisfies(required)) {
            return Mono.error(new GuardRejection(ErrorCode.REAL_NAME_VERIFICATION_REQUIRED,
                    "The model `" + route.model() + "` requires " + describe(required)
                            + " real-name verification; this account has " + describe(account.verification()) + "."));
        }
        return chain.next(ctx);
    }

    public static boolean permits(Account account, VerificationLevel required) {
        return !account.reverificationRequired() && account.verification().satisfies(required);
    }

    static String describe(VerificationLevel level) {
        return switch (level) {
            case NONE -> "no";
            case INDIVIDUAL -> "individual";
            case ENTERPRISE -> "enterprise";
        };
    }
}
