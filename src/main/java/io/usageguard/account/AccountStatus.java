package io.usageguard.account;

public enum AccountStatus {
    ACTIVE, SUSPENDED, TERMINATED
}
