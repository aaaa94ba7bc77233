package io.usageguard.usage;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingRegistry;
import com.knuddels.jtokkit.api.EncodingType;
import io.usageguard.routing.InferenceRequest;
import org.springframework.stereotype.Component;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.json.JsonFactory;

/**
 * Prompt tokens of a request, counted at admission.
 *
 * <p>When the model's tokenizer is known ({@code usage-guard.usage.tokenizers.[glob]}, or jtokkit's
 * table of OpenAI model names when {@code openai-model-names} is on), the prompt text is counted
 * with that jtokkit encoding. The request parser only counted characters, so the text is read here
 * in a second streaming pass over the body bytes (only for models with a tokenizer, and only up to
 * {@code max-tokenized-chars}: the pass stops there, so its cost is bounded however large the body
 * is). The characters beyond the cap are estimated at the tokens-per-character ratio measured on
 * the tokenized part. The text is the same one the parser counted: every string value of the body
 * except the routing fields, joined with newlines. It is dropped as soon as it has been counted.
 *
 * <p>Otherwise the estimate is {@code ceil(promptChars / chars-per-token)}, at least 1.
 */
@Component
public class PromptTokenCounter {

    private static final int MEMO_LIMIT = 10_000;
    private static final Set<String> ROUTING_FIELDS = Set.of("model", "stream", "max_tokens",
            "max_completion_tokens", "max_output_tokens", "n", "stream_options");
    private static final JsonFactory JSON = BodyJson.UNCONSTRAINED;

    private record Entry(String glob, Pattern pattern, Encoding encoding) {
        boolean literal() {
            return glob.indexOf('*') < 0 && glob.indexOf('?') < 0;
        }

        int specificity() {
            return glob.replace("*", "").replace("?", "").length();
        }
    }

    private final UsageProperties properties;
    private final List<Entry> entries;
    private final EncodingRegistry registry;
    private final Map<String, Optional<Encoding>> memo = new ConcurrentHashMap<>();

    public PromptTokenCounter(UsageProperties properties) {
        this.properties = properties;
        this.registry = Encodings.newLazyEncodingRegistry();
        List<Entry> list = new ArrayList<>();
        properties.tokenizers().forEach((glob, name) -> {
            EncodingType type = EncodingType.fromName(name.trim().toLowerCase(java.util.Locale.ROOT))
                    .orElseThrow(() -> new IllegalStateException("usage-guard.usage.tokenizers.[" + glob + "] is "
                            + name + "; known encodings: cl100k_base, o200k_base, p50k_base, p50k_edit, r50k_base"));
            list.add(new Entry(glob, io.usageguard.core.Globs.compile(glob), registry.getEncoding(type))); // loaded now, not on a request
        });
        list.sort(Comparator.comparing((Entry e) -> !e.literal())
                .thenComparing(Comparator.comparingInt(Entry::specificity).reversed())
                .thenComparing(Entry::glob));
        this.entries = List.copyOf(list);
        if (properties.openaiModelNames()) {
            registry.getEncoding(EncodingType.CL100K_BASE);
            registry.getEncoding(EncodingType.O200K_BASE);
        }
    }

    /** Prompt tokens of the request: tokenizer count when the model's tokenizer is known, else the estimate. */
    public long count(InferenceRequest request) {
        long estimate = Math.max(1, properties.estimateTokens(request.promptChars()));
        Encoding encoding = encodingFor(request.model()).orElse(null);
        if (encoding == null || properties.maxTokenizedChars() == 0 || request.promptChars() == 0) {
            return estimate;
        }
        StringBuilder text = new StringBuilder((int) Math.min(request.promptChars() + 64, properties.maxTokenizedChars()));
        long chars = collect(request.body(), properties.maxTokenizedChars(), text);
        if (chars < 0) {
            return estimate;
        }
        long tokens;
        try {
            tokens = encoding.countTokensOrdinary(text.toString());
        } catch (RuntimeException e) {
            return estimate;
        }
        long rest = request.promptChars() - chars;
        if (rest > 0) {
            tokens += chars == 0 ? properties.estimateTokens(rest) : (long) Math.ceil(rest * (double) tokens / chars);
        }
        return Math.max(1, tokens);
    }

    /** The encoding for a model, if any: the most specific configured glob, then jtokkit's model table. */
    public Optional<Encoding> encodingFor(String model) {
        Optional<Encoding> hit = memo.get(model);
        if (hit != null) {
            return hit;
        }
        Optional<Encoding> found = Optional.empty();
        for (Entry e : entries) {
            if (e.pattern().matcher(model).matches()) {
                found = Optional.of(e.encoding());
                break;
            }
        }
        if (found.isEmpty() && properties.openaiModelNames()) {
            found = registry.getEncodingForModel(model);
        }
        if (memo.size() < MEMO_LIMIT) {
            memo.put(model, found);
        }
        return found;
    }

    /**
     * Appends the body's prompt text (string values outside the routing fields, joined with '\n') to
     * {@code out} until {@code cap} characters; returns how many characters of string values it took,
     * or -1 if the body does not parse.
     */
    static long collect(byte[] body, int cap, StringBuilder out) {
        long taken = 0;
        try (JsonParser p = JSON.createParser(ObjectReadContext.empty(), body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return -1;
            }
            while (p.nextToken() == JsonToken.PROPERTY_NAME && out.length() < cap) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                if (ROUTING_FIELDS.contains(name)) {
                    p.skipChildren();
                    continue;
                }
                int depth = 0;
                do {
                    if (v == JsonToken.START_OBJECT || v == JsonToken.START_ARRAY) {
                        depth++;
                    } else if (v == JsonToken.END_OBJECT || v == JsonToken.END_ARRAY) {
                        depth--;
                    } else if (v == JsonToken.VALUE_STRING) {
                        int room = cap - out.length();
                        int length = p.getStringLength();
                        if (out.length() > 0 && room > 0) {
                            out.append('\n');
                            room--;
                        }
                        int n = Math.min(room, length);
                        out.append(p.getStringCharacters(), p.getStringOffset(), n);
                        taken += n;
                        if (out.length() >= cap) {
                            return taken;
                        }
                    }
                    if (depth > 0) {
                        v = p.nextToken();
                    }
                } while (depth > 0 && v != null);
            }
        } catch (JacksonException e) {
            return -1;
        }
        return taken;
    }
}
