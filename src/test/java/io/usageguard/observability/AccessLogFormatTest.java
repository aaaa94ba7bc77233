package io.usageguard.observability;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class AccessLogFormatTest {

    @Test
    void clientNetworksAreSlash24AndSlash48() throws Exception {
        assertThat(ClientNetworks.of(InetAddress.getByName("203.0.113.77"))).isEqualTo("203.0.113.0/24");
        assertThat(ClientNetworks.of(InetAddress.getByName("10.1.2.255"))).isEqualTo("10.1.2.0/24");
        assertThat(ClientNetworks.of(InetAddress.getByName("2001:db8:1234:5678::9"))).isEqualTo("2001:db8:1234::/48");
        assertThat(ClientNetworks.of(InetAddress.getByName("2001:db8:0:5678::9"))).isEqualTo("2001:db8::/48");
        assertThat(ClientNetworks.of(InetAddress.getByName("::ffff:198.51.100.9"))).isEqualTo("198.51.100.0/24");
        assertThat(ClientNetworks.of(InetAddress.getByName("2001:db8:a:b:c:d:e:f"))).doesNotContain(":b:")
                .endsWith("/48");
        assertThat(ClientNetworks.of(null)).isNull();
    }

    @Test
    void jsonStringsAreEscapedSoALineStaysOneValidJsonLine() {
        String nasty = "a\"b\\c\nd\re\tf\u0001g\u2028h";
        StringBuilder sb = new StringBuilder("{\"v\":");
        AccessLog.string(sb, nasty);
        sb.append('}');
        assertThat(sb.toString()).doesNotContain("\n").doesNotContain("\r").doesNotContain("\u2028");
        JsonNode parsed = JsonMapper.builder().build().readTree(sb.toString());
        assertThat(parsed.get("v").asString()).isEqualTo(nasty);
    }

    @Test
    void nettyUriLabelIsBounded() {
        assertThat(NettyMetricsConfiguration.uriLabel("/v1/chat/completions?x=1")).isEqualTo("/v1/chat/completions");
        assertThat(NettyMetricsConfiguration.uriLabel("/v1/models")).isEqualTo("/v1/models");
        assertThat(NettyMetricsConfiguration.uriLabel("/v1/sk-abcdef0123456789")).isEqualTo("other");
        assertThat(NettyMetricsConfiguration.uriLabel("/wp-admin/x.php")).isEqualTo("other");
        assertThat(NettyMetricsConfiguration.methodLabel("POST")).isEqualTo("POST");
        assertThat(NettyMetricsConfiguration.methodLabel("XYZZY123")).isEqualTo("other");
    }
}
