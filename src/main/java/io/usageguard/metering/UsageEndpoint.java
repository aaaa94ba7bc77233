package io.usageguard.metering;

import io.usageguard.admin.AdminException;
import io.usageguard.core.ErrorResponses;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * {@code GET /admin/accounts/{accountId}/usage?from=YYYY-MM-DD&to=YYYY-MM-DD} (contract §2), on the
 * management port only, behind the admin token like every {@code /admin} call.
 */
final class UsageEndpoint {

    private final UsageReports reports;

    UsageEndpoint(UsageReports reports) {
        this.reports = reports;
    }

    RouterFunction<ServerResponse> routes() {
        return RouterFunctions.route()
                .GET("/admin/accounts/{accountId}/usage", r -> Mono
                        .fromCallable(() -> reports.report(r.pathVariable("accountId"),
                                r.queryParam("from").orElse(null), r.queryParam("to").orElse(null)))
                        .subscribeOn(Schedulers.boundedElastic())
                        .flatMap(report -> ServerResponse.ok().contentType(MediaType.APPLICATION_JSON)
                                .bodyValue(report)))
                .onError(AdminException.class, (e, r) -> {
                    AdminException a = (AdminException) e;
                    String type = a.status() == 401 ? "authentication_error" : "invalid_request_error";
                    return ServerResponse.status(a.status()).contentType(MediaType.APPLICATION_JSON)
                            .bodyValue(ErrorResponses.json(type, a.code(), a.getMessage()));
                })
                .build();
    }
}
