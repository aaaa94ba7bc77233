package io.usageguard.usage;

import java.nio.ByteBuffer;

/**
 * Reads the numbers the gateway needs from a JSON document fed to it in arbitrary byte chunks,
 * without keeping any of the document: the top-level {@code usage} object's
 * {@code prompt_tokens}/{@code completion_tokens} (also {@code input_tokens}/{@code output_tokens}),
 * whether the top-level {@code choices} array is empty, and how many characters the text fields
 * ({@code content}, {@code text}, {@code reasoning_content}, {@code reasoning}, {@code refusal},
 * {@code arguments}) carry. Only counts leave this class.
 *
 * <p>Memory is constant: a container stack of {@value #MAX_DEPTH} entries, a 32-byte key buffer and
 * a number accumulator. Strings are never buffered, so a chunk boundary anywhere (inside a key, a
 * number or a multi-byte UTF-8 sequence) changes nothing. Malformed input never throws: the scanner
 * stops at the first structural error and keeps what it had already read (a usage object counts
 * only once it is closed). Not thread-safe.
 */
public final class JsonUsageScanner {

    static final int MAX_DEPTH = 64;
    private static final int KEY_CAP = 32;
    private static final int MAX_DIGITS = 15;

    // what the key whose value is being read names
    private static final byte K_OTHER = 0;
    private static final byte K_USAGE = 1;
    private static final byte K_CHOICES = 2;
    private static final byte K_PROMPT = 3;
    private static final byte K_COMPLETION = 4;
    private static final byte K_TEXT = 5;

    private static final byte[][] KEYS = {
            "usage".getBytes(), "choices".getBytes(),
            "prompt_tokens".getBytes(), "input_tokens".getBytes(),
            "completion_tokens".getBytes(), "output_tokens".getBytes(),
            "content".getBytes(), "text".getBytes(), "reasoning_content".getBytes(), "reasoning".getBytes(),
            "refusal".getBytes(), "arguments".getBytes()};
    private static final byte[] KEY_KINDS = {K_USAGE, K_CHOICES, K_PROMPT, K_PROMPT, K_COMPLETION, K_COMPLETION,
            K_TEXT, K_TEXT, K_TEXT, K_TEXT, K_TEXT, K_TEXT};

    // lexer state
    private int depth;
    private final boolean[] object = new boolean[MAX_DEPTH + 1];
    private final byte[] keyKind = new byte[MAX_DEPTH + 1];
    private boolean expectKey;
    private boolean inString;
    private boolean stringIsKey;
    private boolean countString;
    private int escape; // 0 none, 1 after '\', 2..5 hex digits of \\uXXXX still to come
    private final byte[] key = new byte[KEY_CAP];
    private int keyLength; // -1 when longer than KEY_CAP
    private boolean inScalar;
    private long number;
    private int digits; // -1 when not a plain non-negative integer
    private boolean failed;

    // what was read
    private long pendingPrompt = -1;
    private long pendingCompletion = -1;
    private long promptTokens = -1;
    private long completionTokens = -1;
    private boolean usageSeen;
    private int choices; // 0 absent, 1 open and empty so far, 2 has an element, 3 closed empty
    private long textChars;

    public JsonUsageScanner() {
        reset();
    }

    /** Forgets everything: the next byte starts a new document. */
    public void reset() {
        depth = 0;
        expectKey = false;
        inString = false;
        stringIsKey = false;
        countString = false;
        escape = 0;
        keyLength = 0;
        inScalar = false;
        number = 0;
        digits = 0;
        failed = false;
        pendingPrompt = -1;
        pendingCompletion = -1;
        promptTokens = -1;
        completionTokens = -1;
        usageSeen = false;
        choices = 0;
        textChars = 0;
        keyKind[0] = K_OTHER;
    }

    public void feed(byte[] bytes) {
        feed(bytes, 0, bytes.length);
    }

    public void feed(byte[] bytes, int offset, int length) {
        int end = offset + length;
        for (int i = offset; i < end && !failed; i++) {
            accept(bytes[i]);
        }
    }

    public void feed(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        while (b.hasRemaining() && !failed) {
            accept(b.get());
        }
    }

    /** One byte of the document. */
    void accept(byte b) {
        if (failed) {
            return;
        }
        if (inString) {
            string(b);
            return;
        }
        if (inScalar) {
            if (isScalarByte(b)) {
                scalarByte(b);
                return;
            }
            endScalar();
        }
        switch (b) {
            case ' ', '\t', '\n', '\r' -> {
            }
            case '{' -> open(true);
            case '[' -> open(false);
            case '}' -> close(true);
            case ']' -> close(false);
            case '"' -> {
                if (depth > 0 && object[depth] && expectKey) {
                    stringIsKey = true;
                    countString = false;
                    keyLength = 0;
                } else {
                    valueStart();
                    stringIsKey = false;
                    countString = depth > 0 && object[depth] && keyKind[depth] == K_TEXT;
                }
                inString = true;
                escape = 0;
            }
            case ':' -> {
                if (depth == 0 || !object[depth] || expectKey) {
                    fail();
                }
            }
            case ',' -> {
                if (depth == 0) {
                    fail();
                } else if (object[depth]) {
                    expectKey = true;
                    keyKind[depth] = K_OTHER;
                }
            }
            default -> {
                if (!isScalarByte(b) || (depth > 0 && object[depth] && expectKey)) {
                    fail();
                    return;
                }
                valueStart();
                inScalar = true;
                number = 0;
                digits = 0;
                scalarByte(b);
            }
        }
    }

    private void string(byte b) {
        if (escape == 1) {
            escape = b == 'u' ? 2 : 0;
            keyByte(b);
            return;
        }
        if (escape > 1) {
            escape = escape == 5 ? 0 : escape + 1;
            keyByte(b);
            return;
        }
        if (b == '"') {
            inString = false;
            countString = false;
            if (stringIsKey) {
                keyKind[depth] = kindOf();
                expectKey = false;
            }
            return;
        }
        if (b == '\\') {
            escape = 1;
            if (countString) {
                textChars++;
            }
            keyByte(b);
            return;
        }
        if (countString && (b & 0xC0) != 0x80) {
            textChars++; // one per character: UTF-8 continuation bytes are not counted
        }
        keyByte(b);
    }

    private void keyByte(byte b) {
        if (stringIsKey && keyLength >= 0) {
            if (keyLength == KEY_CAP) {
                keyLength = -1;
            } else {
                key[keyLength++] = b;
            }
        }
    }

    private byte kindOf() {
        if (keyLength <= 0) {
            return K_OTHER;
        }
        outer:
        for (int k = 0; k < KEYS.length; k++) {
            byte[] candidate = KEYS[k];
            if (candidate.length != keyLength) {
                continue;
            }
            for (int i = 0; i < keyLength; i++) {
                if (candidate[i] != key[i]) {
                    continue outer;
                }
            }
            return KEY_KINDS[k];
        }
        return K_OTHER;
    }

    private static boolean isScalarByte(byte b) {
        return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
                || b == '-' || b == '+' || b == '.';
    }

    private void scalarByte(byte b) {
        if (digits < 0) {
            return;
        }
        if (b >= '0' && b <= '9' && digits < MAX_DIGITS) {
            number = number * 10 + (b - '0');
            digits++;
        } else {
            digits = -1; // negative, fractional, exponent, a literal, or absurdly long: not a token count
        }
    }

    private void endScalar() {
        inScalar = false;
        if (digits > 0 && depth == 2 && object[2] && keyKind[1] == K_USAGE && object[1]) {
            if (keyKind[2] == K_PROMPT) {
                pendingPrompt = number;
            } else if (keyKind[2] == K_COMPLETION) {
                pendingCompletion = number;
            }
        }
    }

    /** A value starts at the current depth. */
    private void valueStart() {
        if (depth == 2 && !object[2] && keyKind[1] == K_CHOICES && choices == 1) {
            choices = 2;
        }
        if (depth > 0 && object[depth] && expectKey) {
            fail();
        }
    }

    private void open(boolean isObject) {
        valueStart();
        if (failed) {
            return;
        }
        if (depth == MAX_DEPTH) {
            fail(); // deeper than any usage-bearing answer: give up on this document
            return;
        }
        depth++;
        object[depth] = isObject;
        keyKind[depth] = K_OTHER;
        expectKey = isObject;
        if (depth == 2 && !isObject && object[1] && keyKind[1] == K_CHOICES) {
            choices = 1;
        }
        if (depth == 2 && isObject && object[1] && keyKind[1] == K_USAGE) {
            pendingPrompt = -1;
            pendingCompletion = -1;
        }
    }

    private void close(boolean isObject) {
        if (depth == 0 || object[depth] != isObject) {
            fail();
            return;
        }
        if (depth == 2 && isObject && object[1] && keyKind[1] == K_USAGE
                && (pendingPrompt >= 0 || pendingCompletion >= 0)) {
            promptTokens = pendingPrompt;
            completionTokens = pendingCompletion;
            usageSeen = true;
        }
        if (depth == 2 && !isObject && keyKind[1] == K_CHOICES && choices == 1) {
            choices = 3;
        }
        depth--;
        expectKey = false;
    }

    private void fail() {
        failed = true;
        inString = false;
        inScalar = false;
    }

    /** Ends the document (a number at the very end has no terminator of its own). */
    public void finish() {
        if (inScalar && !failed) {
            endScalar();
        }
    }

    /** True once a complete top-level {@code usage} object with at least one token count was read. */
    public boolean usageSeen() {
        return usageSeen;
    }

    /** From the last complete usage object; -1 when it had none. */
    public long promptTokens() {
        return promptTokens;
    }

    /** From the last complete usage object; -1 when it had none (embeddings). */
    public long completionTokens() {
        return completionTokens;
    }

    /** The top-level {@code choices} was an empty array ({@code "choices":[]}). */
    public boolean choicesEmpty() {
        return choices == 3;
    }

    /** Characters in the text fields seen so far (an escape sequence counts as one). */
    public long textChars() {
        return textChars;
    }

    /** The input stopped being JSON; nothing after that point was read. */
    public boolean failed() {
        return failed;
    }
}
