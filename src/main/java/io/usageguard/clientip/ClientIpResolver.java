package io.usageguard.clientip;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;

import io.usageguard.core.Cidr;
import io.usageguard.core.IpLiterals;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.stereotype.Component;

/**
 * The client's address: the socket peer, unless the peer is a trusted proxy; then the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy. A client that sends X-Forwarded-For
 * directly changes nothing, and neither do entries to the left of the first untrusted hop.
 */
@Component
public class ClientIpResolver {

    private final List<Cidr> trusted;

    public ClientIpResolver(ClientIpProperties properties) {
        this.trusted = Cidr.parseAll(properties.trustedProxies());
    }

    public InetAddress resolve(ServerHttpRequest request) {
        InetSocketAddress remote = request.getRemoteAddress();
        InetAddress peer = remote == null ? null : remote.getAddress();
        if (peer == null || trusted.isEmpty() || !Cidr.anyContains(trusted, peer)) {
            return peer;
        }
        List<String> values = request.getHeaders().get("X-Forwarded-For");
        if (values == null || values.isEmpty()) {
            return peer;
        }
        InetAddress client = peer;
        for (int v = values.size() - 1; v >= 0; v--) {
            String[] hops = values.get(v).split(",");
            for (int i = hops.length - 1; i >= 0; i--) {
                Optional<InetAddress> hop = IpLiterals.parse(hops[i]);
                if (hop.isEmpty()) {
                    return client; // garbage: trust nothing further left
                }
                client = hop.get();
                if (!Cidr.anyContains(trusted, client)) {
                    return client;
                }
            }
        }
        return client;
    }
}
