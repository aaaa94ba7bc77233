package io.usageguard.observability;

import java.util.LinkedHashSet;
import java.util.Set;

import io.usageguard.pipeline.GuardContext;
import io.usageguard.routing.ModelCatalog;
import io.usageguard.routing.ModelEntry;
import io.usageguard.routing.RoutingProperties;
import org.springframework.stereotype.Component;

/**
 * Bounded label values for metrics (contract §4): a model is labelled with the configured entry it
 * matched (the literal name, or the glob such as {@code deepseek-*}), never with what the client
 * sent; anything else is {@code other}. A route is a configured backend id or {@code none}.
 */
@Component
public class ModelLabels {

    public static final String OTHER = "other";
    public static final String NO_ROUTE = "none";

    private final ModelCatalog catalog;
    private final Set<String> models;
    private final Set<String> routes;

    public ModelLabels(ModelCatalog catalog, RoutingProperties routing) {
        this.catalog = catalog;
        Set<String> m = new LinkedHashSet<>();
        for (ModelEntry e : catalog.entries()) {
            m.add(e.glob());
        }
        m.add(OTHER);
        this.models = Set.copyOf(m);
        Set<String> r = new LinkedHashSet<>(routing.backends().keySet());
        r.add(NO_ROUTE);
        this.routes = Set.copyOf(r);
    }

    /** Every value the {@code model} label can take. */
    public Set<String> models() {
        return models;
    }

    /** Every value the {@code route} label can take. */
    public Set<String> routes() {
        return routes;
    }

    /** Each configured model label and the backends that serve it. */
    public java.util.Map<String, java.util.List<String>> modelBackends() {
        java.util.Map<String, java.util.List<String>> m = new java.util.LinkedHashMap<>();
        for (ModelEntry e : catalog.entries()) {
            m.put(e.glob(), e.backends());
        }
        return m;
    }

    public String model(GuardContext ctx) {
        if (ctx.route() != null) {
            return ctx.route().entry().glob();
        }
        if (ctx.inference() != null && ctx.inference().model() != null) {
            // refused at routing (e.g. model_not_permitted) after the model was read
            return catalog.resolve(ctx.inference().model()).map(ModelEntry::glob).orElse(OTHER);
        }
        return OTHER;
    }

    public String route(GuardContext ctx) {
        return ctx.route() == null ? NO_ROUTE : ctx.route().backendId();
    }
}
