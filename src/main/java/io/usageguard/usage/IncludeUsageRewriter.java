package io.usageguard.usage;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.json.JsonFactory;

/**
 * Asks a backend for usage in a stream: returns the request body with
 * {@code "stream_options":{"include_usage":true}} added or merged, changing nothing else (byte for
 * byte, the rest of the body is the client's). One streaming pass over the top-level fields finds
 * where to splice; no tree is built and the body is not re-serialised.
 *
 * <ul>
 *   <li>no {@code stream_options}: {@code "stream_options":{"include_usage":true},} is inserted after
 *       the opening brace;</li>
 *   <li>{@code "stream_options":null}: the {@code null} becomes {@code {"include_usage":true}};</li>
 *   <li>an object without {@code include_usage}: {@code "include_usage":true} is inserted first in it;</li>
 *   <li>{@code "include_usage":false} or {@code null}: the value becomes {@code true}.</li>
 * </ul>
 * Anything else (an {@code include_usage} that is a string or number, a body that does not parse)
 * is left alone: {@link #rewrite} returns null and the gateway falls back to its estimate.
 */
public final class IncludeUsageRewriter {

    private static final JsonFactory JSON = BodyJson.UNCONSTRAINED;

    private static final byte[] FIELD = "\"stream_options\":{\"include_usage\":true},".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] OBJECT = "{\"include_usage\":true}".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] MEMBER = "\"include_usage\":true".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TRUE = "true".getBytes(StandardCharsets.US_ASCII);

    private IncludeUsageRewriter() {
    }

    /** One change: replace {@code length} bytes at {@code at} with {@code with}. */
    private record Splice(int at, int length, byte[] with) {
    }

    /** The body asking for usage, or null when it cannot be rewritten safely. */
    public static byte[] rewrite(byte[] body) {
        List<Splice> splices = new ArrayList<>(2);
        try (JsonParser p = JSON.createParser(ObjectReadContext.empty(), body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            int open = offset(p);
            if (open < 0 || body[open] != '{') {
                return null;
            }
            boolean found = false;
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                if (!"stream_options".equals(name)) {
                    p.skipChildren();
                    continue;
                }
                found = true;
                int at = offset(p);
                if (v == JsonToken.VALUE_NULL) {
                    if (!matches(body, at, "null")) {
                        return null;
                    }
                    splices.add(new Splice(at, 4, OBJECT));
                } else if (v == JsonToken.START_OBJECT) {
                    if (!options(p, body, at, splices)) {
                        return null;
                    }
                } else {
                    return null;
                }
            }
            if (!found) {
                if (p.currentToken() != JsonToken.END_OBJECT) {
                    return null;
                }
                // the body has at least "model", so a comma after the inserted member is right
                splices.add(new Splice(open + 1, 0, FIELD));
            }
        } catch (JacksonException | IndexOutOfBoundsException e) {
            return null;
        }
        return apply(body, splices);
    }

    private static boolean options(JsonParser p, byte[] body, int open, List<Splice> splices) {
        if (body[open] != '{') {
            return false;
        }
        boolean any = false;
        boolean empty = true;
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.PROPERTY_NAME) {
            empty = false;
            String name = p.currentName();
            JsonToken v = p.nextToken();
            if (!"include_usage".equals(name)) {
                p.skipChildren();
                continue;
            }
            any = true;
            int at = offset(p);
            if (v == JsonToken.VALUE_TRUE) {
                continue;
            }
            if (v == JsonToken.VALUE_FALSE && matches(body, at, "false")) {
                splices.add(new Splice(at, 5, TRUE));
            } else if (v == JsonToken.VALUE_NULL && matches(body, at, "null")) {
                splices.add(new Splice(at, 4, TRUE));
            } else {
                return false;
            }
        }
        if (t != JsonToken.END_OBJECT) {
            return false;
        }
        if (!any) {
            byte[] member = empty ? MEMBER : concat(MEMBER, new byte[]{','});
            splices.add(new Splice(open + 1, 0, member));
        }
        return true;
    }

    private static int offset(JsonParser p) {
        long o = p.currentTokenLocation().getByteOffset();
        return o < 0 || o > Integer.MAX_VALUE ? -1 : (int) o;
    }

    private static boolean matches(byte[] body, int at, String literal) {
        if (at < 0 || at + literal.length() > body.length) {
            return false;
        }
        for (int i = 0; i < literal.length(); i++) {
            if (body[at + i] != literal.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private static byte[] apply(byte[] body, List<Splice> splices) {
        splices.sort((a, b) -> Integer.compare(a.at(), b.at()));
        int size = body.length;
        for (Splice s : splices) {
            size += s.with().length - s.length();
        }
        byte[] out = new byte[size];
        int from = 0;
        int to = 0;
        for (Splice s : splices) {
            System.arraycopy(body, from, out, to, s.at() - from);
            to += s.at() - from;
            System.arraycopy(s.with(), 0, out, to, s.with().length);
            to += s.with().length;
            from = s.at() + s.length();
        }
        System.arraycopy(body, from, out, to, body.length - from);
        return out;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
