package io.usageguard.routing;

import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import io.usageguard.verification.VerificationLevel;

/** One configured model glob, compiled once at start-up. */
public record ModelEntry(
        String glob,
        Pattern pattern,
        List<String> backends,
        VerificationLevel minVerification,
        int maxTokensDefault,
        Set<String> allowedTiers,
        RoutingProperties.ModelProperties properties) {

    public boolean isLiteral() {
        return glob.indexOf('*') < 0 && glob.indexOf('?') < 0;
    }

    public boolean allowsTier(String tier) {
        return allowedTiers.isEmpty() || allowedTiers.contains(tier);
    }

    /** Literal characters in the glob: the more, the more specific. */
    int specificity() {
        int n = 0;
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c != '*' && c != '?') {
                n++;
            }
        }
        return n;
    }
}
