package io.usageguard.admin;

/** An admin call that cannot be done: bad input (400), no such thing (404), or not in this state (409). */
public final class AdminException extends RuntimeException {

    private final int status;
    private final String code;

    private AdminException(int status, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
    }

    public static AdminException badRequest(String message) {
        return new AdminException(400, "invalid_request", message);
    }

    public static AdminException notFound(String message) {
        return new AdminException(404, "not_found", message);
    }

    public static AdminException conflict(String message) {
        return new AdminException(409, "conflict", message);
    }

    public static AdminException unauthorized() {
        return new AdminException(401, "invalid_admin_token", "A valid admin token is required.");
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }
}
