package io.usageguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.time.Duration;

import org.junit.jupiter.api.Test;

class CoreFormatsTest {

    @Test
    void openAiResetDurations() {
        assertThat(Durations.openAi(Duration.ofMillis(20))).isEqualTo("20ms");
        assertThat(Durations.openAi(Duration.ofSeconds(1))).isEqualTo("1s");
        assertThat(Durations.openAi(Duration.ofMinutes(6))).isEqualTo("6m0s");
        assertThat(Durations.openAi(Duration.ofSeconds(61).plusMillis(200))).isEqualTo("1m2s");
        assertThat(Durations.openAi(Duration.ofHours(23).plusSeconds(5))).isEqualTo("23h0m5s");
        assertThat(Durations.openAi(Duration.ZERO)).isEqualTo("0s");
    }

    @Test
    void retryAfterIsWholeSecondsAtLeastOne() {
        assertThat(ErrorResponses.retryAfterSeconds(null)).isEqualTo(1);
        assertThat(ErrorResponses.retryAfterSeconds(Duration.ofMillis(10))).isEqualTo(1);
        assertThat(ErrorResponses.retryAfterSeconds(Duration.ofMillis(1500))).isEqualTo(2);
        assertThat(ErrorResponses.retryAfterSeconds(Duration.ofSeconds(60))).isEqualTo(60);
    }

    @Test
    void errorJsonIsEscaped() {
        assertThat(ErrorResponses.json(ErrorCode.MODEL_NOT_FOUND, "model `a\"b\\c\n` not found"))
                .isEqualTo("{\"error\":{\"message\":\"model `a\\\"b\\\\c\\n` not found\",\"type\":\"invalid_request_error\","
                        + "\"code\":\"model_not_found\",\"param\":null}}");
        StringBuilder sb = new StringBuilder();
        JsonStrings.append(sb, "a\u0001b\u2028c\u007f");
        assertThat(sb.toString()).isEqualTo("\"a\\u0001b\\u2028c\\u007f\"");
    }

    @Test
    void cidrs() throws Exception {
        Cidr v4 = Cidr.parse("203.0.113.0/24");
        assertThat(v4.contains(InetAddress.getByName("203.0.113.200"))).isTrue();
        assertThat(v4.contains(InetAddress.getByName("203.0.114.1"))).isFalse();
        assertThat(v4.contains(InetAddress.getByName("::ffff:203.0.113.5"))).isTrue();
        assertThat(Cidr.parse("2001:db8::/32").contains(InetAddress.getByName("2001:db8:ffff::1"))).isTrue();
        assertThat(Cidr.parse("10.1.2.3").contains(InetAddress.getByName("10.1.2.4"))).isFalse();
        assertThat(Cidr.parse("10.1.2.3/20").toString()).isEqualTo("10.1.0.0/20");
        assertThat(Cidr.networkOf(InetAddress.getByName("198.51.100.77"), 24, 48)).isEqualTo("198.51.100.0/24");
        assertThatThrownBy(() -> Cidr.parse("example.com/24")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Cidr.parse("10.0.0.0/33")).isInstanceOf(IllegalArgumentException.class);
    }
}
