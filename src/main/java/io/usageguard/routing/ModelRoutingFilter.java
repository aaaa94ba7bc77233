package io.usageguard.routing;

import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.pipeline.GuardFilter;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * Chooses the backend for the requested model (404 {@code model_not_found} when none serves it)
 * and refuses models the account's tier may not use (403 {@code model_not_permitted}). The choice is
 * left in the exchange for the gateway route of that backend.
 */
@Component
public class ModelRoutingFilter implements GuardFilter {

    /** Exchange attribute naming the backend id the request goes to; each backend's route matches on it. */
    public static final String BACKEND_ATTR = "usage-guard.backend";

    private final ModelCatalog catalog;

    public ModelRoutingFilter(ModelCatalog catalog) {
        this.catalog = catalog;
    }

    @Override
    public Mono<Void> filter(GuardContext ctx, GuardChain chain) {
        InferenceRequest request = ctx.inference();
        if (request == null) {
            return chain.next(ctx);
        }
        ModelEntry entry = catalog.resolve(request.model()).orElse(null);
        if (entry == null) {
            return Mono.error(new GuardRejection(ErrorCode.MODEL_NOT_FOUND,
                    "The model `" + request.model() + "` does not exist or is not served here."));
        }
        if (!entry.allowsTier(ctx.account().tier())) {
            return Mono.error(new GuardRejection(ErrorCode.MODEL_NOT_PERMITTED,
                    "The model `" + request.model() + "` is not available to accounts of tier "
                            + ctx.account().tier() + "."));
        }
        String backend = entry.backends().get(0);
        ctx.route(new ModelRoute(request.model(), entry, backend));
        ctx.exchange().getAttributes().put(BACKEND_ATTR, backend);
        return chain.next(ctx);
    }
}
