package io.usageguard.sharing;

import java.util.Locale;

/**
 * Reduces a User-Agent header to its family: the first product token, lower-cased, without its
 * version ({@code curl/8.5.0} → {@code curl}, {@code Mozilla/5.0 (...)} → {@code mozilla},
 * {@code python-requests/2.31} → {@code python-requests}). The OpenAI SDKs send
 * {@code OpenAI/Python 1.40.0} and {@code OpenAI/JS 4.52.0}; their family keeps the language
 * ({@code openai-python}, {@code openai-js}). No header is {@code none}. Versions are dropped so that
 * one fleet upgrading its SDK does not look like a new party.
 */
public final class UserAgents {

    static final int MAX_FAMILY = 32;

    private UserAgents() {
    }

    public static String family(String userAgent) {
        if (userAgent == null) {
            return "none";
        }
        String ua = userAgent.strip();
        if (ua.isEmpty()) {
            return "none";
        }
        int end = tokenEnd(ua, 0);
        String product = clean(ua.substring(0, end));
        if (product.isEmpty()) {
            return "other";
        }
        if (product.equals("openai") && end < ua.length() && ua.charAt(end) == '/') {
            int langEnd = tokenEnd(ua, end + 1);
            String lang = clean(ua.substring(end + 1, langEnd));
            if (!lang.isEmpty() && Character.isLetter(lang.charAt(0))) {
                return cap("openai-" + lang);
            }
        }
        return cap(product);
    }

    private static int tokenEnd(String s, int from) {
        int i = from;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '/' || c == ' ' || c == '(' || c == ';' || c == ',' || c == '\t') {
                break;
            }
            i++;
        }
        return i;
    }

    private static String clean(String token) {
        StringBuilder sb = new StringBuilder(Math.min(token.length(), MAX_FAMILY));
        for (int i = 0; i < token.length() && sb.length() < MAX_FAMILY; i++) {
            char c = Character.toLowerCase(token.charAt(i));
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.') {
                sb.append(c);
            }
        }
        return sb.toString().toLowerCase(Locale.ROOT);
    }

    private static String cap(String s) {
        return s.length() <= MAX_FAMILY ? s : s.substring(0, MAX_FAMILY);
    }
}
