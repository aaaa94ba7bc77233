package io.usageguard.usage;

import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.json.JsonFactory;

/**
 * A JSON factory for second passes over a body the request parser already accepted under the
 * gateway's limits (size, nesting): its own constraints are lifted so a valid body is never refused here.
 */
final class BodyJson {

    static final JsonFactory UNCONSTRAINED = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(10_000)
                    .maxDocumentLength(-1)
                    .maxStringLength(Integer.MAX_VALUE)
                    .maxNameLength(Integer.MAX_VALUE)
                    .maxNumberLength(Integer.MAX_VALUE)
                    .build())
            .build();

    private BodyJson() {
    }
}
