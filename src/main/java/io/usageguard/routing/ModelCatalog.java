package io.usageguard.routing;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import org.springframework.stereotype.Component;

/**
 * The configured models, compiled once. A model name matches the most specific glob: a literal
 * name beats any glob, and among globs the one with more literal characters wins.
 */
@Component
public class ModelCatalog {

    private static final int MEMO_LIMIT = 10_000;

    private final List<ModelEntry> entries;
    private final Map<String, Optional<ModelEntry>> memo = new ConcurrentHashMap<>();

    public ModelCatalog(RoutingProperties properties) {
        List<ModelEntry> list = new ArrayList<>();
        properties.models().forEach((glob, m) -> {
            if (m.backend().isEmpty()) {
                throw new IllegalStateException("usage-guard.models.[" + glob + "].backend is not set");
            }
            for (String b : m.backend()) {
                if (!properties.backends().containsKey(b)) {
                    throw new IllegalStateException("usage-guard.models.[" + glob + "].backend names " + b
                            + ", which is not under usage-guard.backends");
                }
            }
            list.add(new ModelEntry(glob, io.usageguard.core.Globs.compile(glob), m.backend(), m.minVerification(), m.maxTokensDefault(),
                    new LinkedHashSet<>(m.allowedTiers()), m));
        });
        list.sort(Comparator.comparing((ModelEntry e) -> !e.isLiteral())
                .thenComparing(Comparator.comparingInt(ModelEntry::specificity).reversed())
                .thenComparing(ModelEntry::glob));
        this.entries = List.copyOf(list);
        if (entries.isEmpty()) {
            org.slf4j.LoggerFactory.getLogger(ModelCatalog.class).warn(
                    "no models are configured (usage-guard.models): every inference request will get 404 model_not_found");
        }
    }

    public Optional<ModelEntry> resolve(String model) {
        Optional<ModelEntry> hit = memo.get(model);
        if (hit != null) {
            return hit;
        }
        Optional<ModelEntry> found = Optional.empty();
        for (ModelEntry e : entries) {
            if (e.pattern().matcher(model).matches()) {
                found = Optional.of(e);
                break;
            }
        }
        if (found.isPresent() && memo.size() < MEMO_LIMIT) {
            memo.put(model, found); // only configured models are remembered: clients cannot grow the map
        }
        return found;
    }

    public List<ModelEntry> entries() {
        return entries;
    }
}
