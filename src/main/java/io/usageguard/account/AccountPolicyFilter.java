package io.usageguard.account;

import java.time.Clock;
import java.time.Instant;
import java.util.Optional;

import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.core.Scalars;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Refuses accounts the platform has closed to service, in this order: terminated, suspended (a
 * timed suspension lifts by itself at its end), restricted (minors, agreement §1.1).
 */
@Component
public class AccountPolicyFilter implements GuardFilter {

    private static final GuardRejection TERMINATED = new GuardRejection(ErrorCode.ACCOUNT_TERMINATED,
            "This account has been terminated.");
    private static final GuardRejection RESTRICTED = new GuardRejection(ErrorCode.ACCOUNT_RESTRICTED,
            "This account is restricted: people under 14 may not use the service (agreement §1.1).");
    private static final GuardRejection NO_ACCOUNT = new GuardRejection(ErrorCode.INVALID_API_KEY,
            "Incorrect API key provided.");

    private final AccountCache accounts;
    private final Clock clock;

    public AccountPolicyFilter(AccountCache accounts, Clock clock) {
        this.accounts = accounts;
        this.clock = clock;
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        Mono<Optional<Account>> lookup = accounts.get(ctx.key().accountId());
        if (Scalars.isKnown(lookup)) { // from the cache: no operators
            return check(ctx, chain, Scalars.value(lookup));
        }
        return lookup.flatMap(found -> check(ctx, chain, found));
    }

    private Mono<Void> check(GuardContext ctx, GuardChain chain, Optional<Account> found) {
        if (found.isEmpty()) {
            return Mono.error(NO_ACCOUNT);
        }
        Account account = found.get();
        Instant now = clock.instant();
        switch (account.statusAt(now)) {
            case TERMINATED -> {
                return Mono.error(TERMINATED);
            }
            case SUSPENDED -> {
                return Mono.error(new GuardRejection(ErrorCode.ACCOUNT_SUSPENDED, suspendedMessage(account)));
            }
            default -> {
            }
        }
        if (account.minor()) {
            return Mono.error(RESTRICTED);
        }
        ctx.account(account);
        return chain.next(ctx);
    }

    static String suspendedMessage(Account account) {
        return account.suspendedUntil() == null
                ? "This account is suspended. Contact support for details."
                : "This account is suspended until " + account.suspendedUntil() + ".";
    }
}
