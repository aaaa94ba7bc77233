package io.usageguard.clientip;

import java.util.List;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code usage-guard.client-ip.trusted-proxies}: CIDRs of the load balancers and proxies in front of
 * the gateway. X-Forwarded-For is read only when the connection comes from one of them.
 */
@ConfigurationProperties("usage-guard.client-ip")
public record ClientIpProperties(List<String> trustedProxies) {

    public ClientIpProperties {
        trustedProxies = trustedProxies == null ? List.of() : List.copyOf(trustedProxies);
    }
}
