package io.usageguard.identity;

public enum KeyStatus {
    ACTIVE, SUSPENDED, REVOKED
}
