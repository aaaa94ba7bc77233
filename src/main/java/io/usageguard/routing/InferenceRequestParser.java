package io.usageguard.routing;

import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.json.JsonFactory;

/**
 * Reads the fields the gateway needs from a request body in one streaming pass, without building
 * a tree. Invalid UTF-8, invalid JSON, JSON nested deeper than the limit, a missing model or a bad
 * {@code max_tokens} are refused with 400 {@code invalid_request_body}; the message never quotes
 * the body.
 */
public final class InferenceRequestParser {

    private static final int MAX_MODEL_LENGTH = 256;

    private final JsonFactory json;
    private final int maxTokensCeiling;

    public InferenceRequestParser(int maxNestingDepth, int maxTokensCeiling, long maxDocumentLength) {
        this.json = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(maxNestingDepth)
                        .maxDocumentLength(maxDocumentLength)
                        .maxNumberLength(64)
                        .maxNameLength(1024)
                        .build())
                .build();
        this.maxTokensCeiling = maxTokensCeiling;
    }

    public InferenceRequest parse(byte[] body) {
        if (body.length == 0) {
            throw bad("The request body is empty; a JSON object with a \"model\" is required.");
        }
        String model = null;
        boolean stream = false;
        Integer maxTokens = null;
        Integer n = null;
        boolean includeUsage = false;
        long promptChars = 0;
        try (JsonParser p = json.createParser(ObjectReadContext.empty(), body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw bad("The request body must be a JSON object.");
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.PROPERTY_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                switch (name) {
                    case "model" -> {
                        if (v != JsonToken.VALUE_STRING || p.getString().isBlank()) {
                            throw bad("\"model\" must be a non-empty string.");
                        }
                        model = p.getString();
                        if (model.length() > MAX_MODEL_LENGTH) {
                            throw bad("\"model\" is too long.");
                        }
                    }
                    case "stream" -> {
                        if (v == JsonToken.VALUE_TRUE || v == JsonToken.VALUE_FALSE) {
                            stream = v == JsonToken.VALUE_TRUE;
                        } else if (v != JsonToken.VALUE_NULL) {
                            throw bad("\"stream\" must be a boolean.");
                        }
                    }
                    case "max_tokens", "max_completion_tokens", "max_output_tokens" ->
                            maxTokens = positiveInt(p, v, name, maxTokensCeiling, maxTokens);
                    case "n" -> n = positiveInt(p, v, name, 128, n);
                    case "stream_options" -> {
                        if (v == JsonToken.START_OBJECT) {
                            includeUsage = readIncludeUsage(p);
                        } else if (v != JsonToken.VALUE_NULL) {
                            throw bad("\"stream_options\" must be an object.");
                        }
                    }
                    default -> promptChars += countText(p, v);
                }
            }
            if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
                throw bad("The request body is not a single JSON object.");
            }
        } catch (JacksonException e) {
            throw bad("The request body is not valid JSON" + reason(e) + ".");
        }
        if (model == null) {
            throw bad("The request body has no \"model\".");
        }
        return new InferenceRequest(model, stream, maxTokens, n, includeUsage, promptChars, body);
    }

    private static boolean readIncludeUsage(JsonParser p) {
        boolean include = false;
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.PROPERTY_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            if ("include_usage".equals(name)) {
                include = v == JsonToken.VALUE_TRUE;
            } else {
                p.skipChildren();
            }
        }
        return include;
    }

    private Integer positiveInt(JsonParser p, JsonToken v, String name, int ceiling, Integer previous) {
        if (v == JsonToken.VALUE_NULL) {
            return previous;
        }
        if (v != JsonToken.VALUE_NUMBER_INT) {
            throw bad("\"" + name + "\" must be a positive integer.");
        }
        long value;
        try {
            value = p.getLongValue();
        } catch (JacksonException e) {
            throw bad("\"" + name + "\" is out of range.");
        }
        if (value < 1 || value > ceiling) {
            throw bad("\"" + name + "\" must be between 1 and " + ceiling + ".");
        }
        return (int) value;
    }

    /** Characters of text under a value (skipping numbers and literals), without keeping the text. */
    private static long countText(JsonParser p, JsonToken v) {
        if (v == JsonToken.VALUE_STRING) {
            return p.getStringLength();
        }
        if (v != JsonToken.START_OBJECT && v != JsonToken.START_ARRAY) {
            return 0;
        }
        long chars = 0;
        int depth = 1;
        while (depth > 0) {
            JsonToken t = p.nextToken();
            if (t == null) {
                break;
            }
            switch (t) {
                case START_OBJECT, START_ARRAY -> depth++;
                case END_OBJECT, END_ARRAY -> depth--;
                case VALUE_STRING -> chars += p.getStringLength();
                default -> {
                }
            }
        }
        return chars;
    }

    private static String reason(JacksonException e) {
        String m = e.getOriginalMessage();
        if (m == null) {
            return "";
        }
        if (m.contains("nesting depth")) {
            return ": nested too deeply";
        }
        if (m.contains("UTF") || m.contains("Invalid UTF-8")) {
            return ": invalid UTF-8";
        }
        return "";
    }

    private static GuardRejection bad(String message) {
        return new GuardRejection(ErrorCode.INVALID_REQUEST_BODY, message);
    }
}
