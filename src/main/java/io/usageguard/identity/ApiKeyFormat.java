package io.usageguard.identity;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.zip.CRC32;

/**
 * The key format of contract §1: {@code sk-} + 40 random base62 characters + 6 base62 characters
 * of the CRC32 of everything before them. Keys imported from an older system are any printable
 * ASCII of 20–200 characters and are recognised only by their hash.
 */
public final class ApiKeyFormat {

    public static final String PREFIX = "sk-";
    static final int BODY_LENGTH = 40;
    static final int CHECKSUM_LENGTH = 6;
    public static final int ISSUED_LENGTH = PREFIX.length() + BODY_LENGTH + CHECKSUM_LENGTH;
    static final int LEGACY_MIN = 20;
    static final int LEGACY_MAX = 200;
    /** Characters of the key shown to operators and in logs: {@code sk-} and 4 more. */
    static final int DISPLAY_PREFIX_LENGTH = 7;

    private static final char[] BASE62 =
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    public enum Shape {
        /** Our own format with a valid checksum. */
        ISSUED,
        /** Not our format, but acceptable as an imported key: look it up by hash. */
        LEGACY,
        /** Refused without any lookup. */
        MALFORMED
    }

    private ApiKeyFormat() {
    }

    public static String generate() {
        StringBuilder sb = new StringBuilder(ISSUED_LENGTH).append(PREFIX);
        for (int i = 0; i < BODY_LENGTH; i++) {
            sb.append(BASE62[RANDOM.nextInt(BASE62.length)]);
        }
        return sb.append(checksum(sb)).toString();
    }

    /** A key with a valid checksum built from a fixed body (the demo profile's key). */
    public static String withChecksum(String body40) {
        if (body40.length() != BODY_LENGTH || !isBase62(body40, 0, body40.length())) {
            throw new IllegalArgumentException("a key body is 40 base62 characters");
        }
        String head = PREFIX + body40;
        return head + checksum(head);
    }

    public static Shape classify(String key) {
        if (key == null) {
            return Shape.MALFORMED;
        }
        int len = key.length();
        if (len == ISSUED_LENGTH && key.startsWith(PREFIX) && isBase62(key, PREFIX.length(), len)) {
            String expected = checksum(key.subSequence(0, len - CHECKSUM_LENGTH));
            return key.endsWith(expected) ? Shape.ISSUED : Shape.MALFORMED;
        }
        if (len < LEGACY_MIN || len > LEGACY_MAX) {
            return Shape.MALFORMED;
        }
        for (int i = 0; i < len; i++) {
            char c = key.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                return Shape.MALFORMED;
            }
        }
        return Shape.LEGACY;
    }

    /** Hex SHA-256: the only form in which a key is stored. */
    public static String hash(String key) {
        MessageDigest md = SHA256.get(); // one per thread: looking the algorithm up costs more than hashing
        return HEX.formatHex(md.digest(key.getBytes(StandardCharsets.US_ASCII)));
    }

    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    });

    public static String displayPrefix(String key) {
        return key.substring(0, Math.min(DISPLAY_PREFIX_LENGTH, key.length()));
    }

    /** A random identifier such as {@code key_3fZ9...}: not secret, safe in logs. */
    public static String newId(String kind) {
        StringBuilder sb = new StringBuilder(kind).append('_');
        for (int i = 0; i < 16; i++) {
            sb.append(BASE62[RANDOM.nextInt(BASE62.length)]);
        }
        return sb.toString();
    }

    static String checksum(CharSequence head) {
        int n = head.length();
        byte[] bytes = new byte[n];
        for (int i = 0; i < n; i++) {
            bytes[i] = (byte) head.charAt(i);
        }
        CRC32 crc = new CRC32();
        crc.update(bytes, 0, n); // one call: per-byte updates cost a native transition each
        long v = crc.getValue();
        char[] out = new char[CHECKSUM_LENGTH];
        for (int i = CHECKSUM_LENGTH - 1; i >= 0; i--) {
            out[i] = BASE62[(int) (v % 62)];
            v /= 62;
        }
        return new String(out);
    }

    private static boolean isBase62(CharSequence s, int from, int to) {
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
                return false;
            }
        }
        return true;
    }
}
