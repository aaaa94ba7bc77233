package io.usageguard.routing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.usageguard.account.Account;
import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.pipeline.GuardContext;
import io.usageguard.verification.VerificationFilter;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/**
 * {@code GET /v1/models} and {@code GET /v1/models/{model}}, answered by the gateway itself: the
 * configured model names (literal entries; globs are not listed) that the caller's account may use,
 * given its tier and verification.
 */
@Configuration(proxyBeanMethods = false)
public class ModelsEndpoint {

    @Bean
    RouterFunction<ServerResponse> modelsRoutes(ModelCatalog catalog) {
        return RouterFunctions.route()
                .GET("/v1/models", request -> list(catalog, request))
                .GET("/v1/models/{model}", request -> one(catalog, request))
                .build();
    }

    private static Mono<ServerResponse> list(ModelCatalog catalog, ServerRequest request) {
        Account account = account(request);
        List<Map<String, Object>> data = new ArrayList<>();
        for (ModelEntry e : catalog.entries()) {
            if (e.isLiteral() && usable(e, account)) {
                data.add(model(e.glob()));
            }
        }
        return ServerResponse.ok().bodyValue(Map.of("object", "list", "data", data));
    }

    private static Mono<ServerResponse> one(ModelCatalog catalog, ServerRequest request) {
        String name = request.pathVariable("model");
        Account account = account(request);
        return catalog.resolve(name).filter(e -> usable(e, account))
                .map(e -> ServerResponse.ok().bodyValue(model(name)))
                .orElseGet(() -> Mono.error(new GuardRejection(ErrorCode.MODEL_NOT_FOUND,
                        "The model `" + name + "` does not exist or you do not have access to it.")));
    }

    private static boolean usable(ModelEntry e, Account account) {
        return e.allowsTier(account.tier()) && VerificationFilter.permits(account, e.minVerification());
    }

    private static Account account(ServerRequest request) {
        GuardContext ctx = GuardContext.of(request.exchange());
        if (ctx == null || ctx.account() == null) {
            throw new GuardRejection(ErrorCode.MISSING_API_KEY, "You didn't provide an API key.");
        }
        return ctx.account();
    }

    private static Map<String, Object> model(String id) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("object", "model");
        m.put("created", 0);
        m.put("owned_by", "usage-guard");
        return m;
    }
}
