package io.usageguard.core;

import java.util.regex.Pattern;

/** Model-name globs of the configuration: {@code *} any run of characters, {@code ?} one; compiled once. */
public final class Globs {

    private Globs() {
    }

    public static Pattern compile(String glob) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            switch (c) {
                case '*' -> re.append(".*");
                case '?' -> re.append('.');
                default -> re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(re.toString());
    }
}
