package io.usageguard.clientip;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;

/** The X-Forwarded-For rules: believed only from trusted proxies, read right to left. */
class ClientIpResolverTest {

    private static MockServerHttpRequest request(String peer, String... xff) {
        MockServerHttpRequest.BaseBuilder<?> b = MockServerHttpRequest.get("/v1/models")
                .remoteAddress(new InetSocketAddress(peer, 40000));
        for (String v : xff) {
            b.header("X-Forwarded-For", v);
        }
        return b.build();
    }

    @Test
    void untrustedPeersCannotChooseTheirAddress() {
        ClientIpResolver none = new ClientIpResolver(new ClientIpProperties(List.of()));
        assertThat(none.resolve(request("198.51.100.7", "203.0.113.9")).getHostAddress()).isEqualTo("198.51.100.7");
        ClientIpResolver lb = new ClientIpResolver(new ClientIpProperties(List.of("10.0.0.0/8")));
        assertThat(lb.resolve(request("198.51.100.7", "203.0.113.9")).getHostAddress()).isEqualTo("198.51.100.7");
    }

    @Test
    void trustedProxiesAreSkippedFromTheRight() {
        ClientIpResolver r = new ClientIpResolver(new ClientIpProperties(List.of("10.0.0.0/8", "192.0.2.1")));
        // the client forged the left-most entry; the load balancer appended the real peer
        assertThat(r.resolve(request("10.1.2.3", "1.2.3.4, 203.0.113.9, 192.0.2.1")).getHostAddress())
                .isEqualTo("203.0.113.9");
        assertThat(r.resolve(request("10.1.2.3", "1.2.3.4", "203.0.113.9")).getHostAddress()).isEqualTo("203.0.113.9");
        assertThat(r.resolve(request("10.1.2.3", "[2001:db8::1]")).getHostAddress()).isEqualTo("2001:db8:0:0:0:0:0:1");
        assertThat(r.resolve(request("10.1.2.3", "203.0.113.9:5555")).getHostAddress()).isEqualTo("203.0.113.9");
        // garbage stops the walk at the last address we could trust
        assertThat(r.resolve(request("10.1.2.3", "evil.example.com, 10.9.9.9")).getHostAddress()).isEqualTo("10.9.9.9");
        assertThat(r.resolve(request("10.1.2.3")).getHostAddress()).isEqualTo("10.1.2.3");
    }
}
