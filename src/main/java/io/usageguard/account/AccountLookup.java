package io.usageguard.account;

import java.util.Optional;

/** Where accounts are stored (the registry). Blocking; only called off the event loop by {@link AccountCache}. */
public interface AccountLookup {

    Optional<Account> findAccount(String accountId);
}
