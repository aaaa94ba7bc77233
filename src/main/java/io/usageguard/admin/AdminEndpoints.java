package io.usageguard.admin;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.Callable;

import io.usageguard.core.ErrorResponses;
import org.springframework.core.codec.DecodingException;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.ServerWebInputException;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** The admin API of contract §2, served only in the management port's context. */
public final class AdminEndpoints {

    private static final int EVENTS_LIMIT = 1000;

    private final AdminService admin;

    public AdminEndpoints(AdminService admin) {
        this.admin = admin;
    }

    public record ReasonBody(String reason) {
    }

    public record SuspendBody(String reason, Instant until) {
    }

    public RouterFunction<ServerResponse> routes() {
        return RouterFunctions.route()
                .PUT("/admin/accounts/{accountId}", r -> body(r, AdminService.AccountUpdate.class)
                        .flatMap(b -> ok(() -> admin.putAccount(id(r), b))))
                .GET("/admin/accounts/{accountId}", r -> ok(() -> admin.getAccount(id(r))))
                .POST("/admin/accounts/{accountId}/suspend", r -> body(r, SuspendBody.class)
                        .flatMap(b -> ok(() -> admin.suspend(id(r), b.reason(), b.until()))))
                .POST("/admin/accounts/{accountId}/reinstate", r -> optionalBody(r)
                        .flatMap(b -> ok(() -> admin.reinstate(id(r), b.reason()))))
                .POST("/admin/accounts/{accountId}/terminate", r -> body(r, ReasonBody.class)
                        .flatMap(b -> ok(() -> admin.terminate(id(r), b.reason()))))
                .POST("/admin/accounts/{accountId}/require-reverification", r -> body(r, ReasonBody.class)
                        .flatMap(b -> ok(() -> admin.requireReverification(id(r), b.reason()))))
                .POST("/admin/accounts/{accountId}/keys/import", r -> body(r, AdminService.KeyRequest.class)
                        .flatMap(b -> created(() -> admin.importKey(id(r), b))))
                .POST("/admin/accounts/{accountId}/keys", r -> optionalKeyBody(r)
                        .flatMap(b -> created(() -> admin.createKey(id(r), b))))
                .GET("/admin/accounts/{accountId}/events", r -> ok(() -> admin.events(id(r), EVENTS_LIMIT)))
                .GET("/admin/keys/{keyId}", r -> ok(() -> admin.getKey(r.pathVariable("keyId"))))
                .POST("/admin/keys/{keyId}/revoke", r -> optionalBody(r)
                        .flatMap(b -> ok(() -> admin.revokeKey(r.pathVariable("keyId"), b.reason()))))
                .POST("/admin/keys/{keyId}/suspend", r -> body(r, ReasonBody.class)
                        .flatMap(b -> ok(() -> admin.suspendKey(r.pathVariable("keyId"), b.reason()))))
                .POST("/admin/keys/{keyId}/reinstate", r -> optionalBody(r)
                        .flatMap(b -> ok(() -> admin.reinstateKey(r.pathVariable("keyId"), b.reason()))))
                .PUT("/admin/keys/{keyId}/sharing", r -> body(r, AdminService.KeySharingUpdate.class)
                        .flatMap(b -> ok(() -> admin.updateKeySharing(r.pathVariable("keyId"), b))))
                .onError(AdminException.class, (e, r) -> errorResponse((AdminException) e))
                .onError(e -> e instanceof ServerWebInputException || e instanceof DecodingException,
                        (e, r) -> errorResponse(AdminException.badRequest("The request body is not valid JSON"
                                + " for this call.")))
                .build();
    }

    private static String id(ServerRequest r) {
        return r.pathVariable("accountId");
    }

    private static <T> Mono<T> body(ServerRequest r, Class<T> type) {
        return r.bodyToMono(type).switchIfEmpty(Mono.error(AdminException.badRequest("A JSON body is required.")));
    }

    private static Mono<ReasonBody> optionalBody(ServerRequest r) {
        return r.bodyToMono(ReasonBody.class).defaultIfEmpty(new ReasonBody(null));
    }

    private static Mono<AdminService.KeyRequest> optionalKeyBody(ServerRequest r) {
        return r.bodyToMono(AdminService.KeyRequest.class)
                .defaultIfEmpty(new AdminService.KeyRequest(null, null, null, null, null));
    }

    private static Mono<ServerResponse> ok(Callable<Object> work) {
        return Mono.fromCallable(work).subscribeOn(Schedulers.boundedElastic())
                .flatMap(v -> ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(v));
    }

    private static Mono<ServerResponse> created(Callable<Object> work) {
        return Mono.fromCallable(work).subscribeOn(Schedulers.boundedElastic())
                .flatMap(v -> ServerResponse.status(HttpStatus.CREATED).contentType(MediaType.APPLICATION_JSON)
                        .bodyValue(v));
    }

    private static Mono<ServerResponse> errorResponse(AdminException e) {
        return ServerResponse.status(e.status()).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(json(e));
    }

    static Mono<Void> error(ServerHttpResponse response, AdminException e) {
        response.setStatusCode(HttpStatus.valueOf(e.status()));
        response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
        byte[] bytes = json(e).getBytes(StandardCharsets.UTF_8);
        return response.writeWith(Mono.just(response.bufferFactory().wrap(bytes)));
    }

    private static String json(AdminException e) {
        String type = e.status() == 401 ? "authentication_error" : "invalid_request_error";
        return ErrorResponses.json(type, e.code(), e.getMessage());
    }
}
