package io.usageguard.sharing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class DistinctWindowTest {

    @Test
    void exactUpToTheCapAndAgesOutSubWindowBySubWindow() {
        DistinctWindow w = new DistinctWindow(12, 32, 10);
        for (int i = 1; i <= 10; i++) {
            assertThat(w.add(NetworkKeys.mix(i), 100 + i)).isEqualTo(DistinctWindow.NEW_IN_WINDOW);
        }
        assertThat(w.count(110)).isEqualTo(10);
        // seen again in the same sub-window, then in a later one
        assertThat(w.add(NetworkKeys.mix(10), 110)).isEqualTo(DistinctWindow.SEEN);
        assertThat(w.add(NetworkKeys.mix(1), 111)).isEqualTo(DistinctWindow.NEW_IN_SLOT);
        assertThat(w.count(111)).isEqualTo(10);
        // slot 101 (value 1) was refreshed in 111; 102..110 age out one by one
        assertThat(w.count(113)).isEqualTo(10); // window is 102..113
        assertThat(w.count(114)).isEqualTo(9);  // 102 gone
        assertThat(w.count(122)).isEqualTo(1);  // only value 1 (seen in 111) and nothing else
        assertThat(w.count(123)).isZero();
        assertThat(w.add(NetworkKeys.mix(5), 130)).isEqualTo(DistinctWindow.NEW_IN_WINDOW);
        assertThat(w.count(130)).isEqualTo(1);
        assertThat(w.sketched()).isFalse();
    }

    @Test
    void pastTheCapASketchPerSubWindowThatAgesOutToo() {
        DistinctWindow w = new DistinctWindow(12, 32, 10);
        for (int i = 1; i <= 1000; i++) {
            w.add(NetworkKeys.mix(i), 200 + (i % 6));
        }
        assertThat(w.sketched()).isTrue();
        assertThat((double) w.count(205)).isCloseTo(1000, within(60.0));
        // the same values again: no growth
        for (int i = 1; i <= 1000; i++) {
            w.add(NetworkKeys.mix(i), 205);
        }
        assertThat((double) w.count(205)).isCloseTo(1000, within(60.0));
        assertThat(w.count(205 + 12)).isZero();
        // everything aged out: exact again
        assertThat(w.add(NetworkKeys.mix(1), 300)).isEqualTo(DistinctWindow.NEW_IN_WINDOW);
        assertThat(w.sketched()).isFalse();
        assertThat(w.count(300)).isEqualTo(1);
    }

    @Test
    void networkKeysGroupByPrefix() throws Exception {
        long a = NetworkKeys.of(java.net.InetAddress.getByName("203.0.113.7"), 24, 48);
        long b = NetworkKeys.of(java.net.InetAddress.getByName("203.0.113.250"), 24, 48);
        long c = NetworkKeys.of(java.net.InetAddress.getByName("203.0.114.7"), 24, 48);
        long mapped = NetworkKeys.of(java.net.InetAddress.getByName("::ffff:203.0.113.9"), 24, 48);
        long v6a = NetworkKeys.of(java.net.InetAddress.getByName("2001:db8:1:2::1"), 24, 48);
        long v6b = NetworkKeys.of(java.net.InetAddress.getByName("2001:db8:1:ffff::9"), 24, 48);
        long v6c = NetworkKeys.of(java.net.InetAddress.getByName("2001:db8:2::1"), 24, 48);
        assertThat(a).isEqualTo(b).isEqualTo(mapped).isNotEqualTo(c);
        assertThat(v6a).isEqualTo(v6b).isNotEqualTo(v6c);
        assertThat(NetworkKeys.of(java.net.InetAddress.getByName("203.0.113.7"), 32, 128))
                .isNotEqualTo(NetworkKeys.of(java.net.InetAddress.getByName("203.0.113.8"), 32, 128));
    }

    @Test
    void userAgentFamilies() {
        assertThat(UserAgents.family("OpenAI/Python 1.40.0")).isEqualTo("openai-python");
        assertThat(UserAgents.family("OpenAI/JS 4.52.0")).isEqualTo("openai-js");
        assertThat(UserAgents.family("curl/8.5.0")).isEqualTo("curl");
        assertThat(UserAgents.family("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")).isEqualTo("mozilla");
        assertThat(UserAgents.family("python-requests/2.31.0")).isEqualTo("python-requests");
        assertThat(UserAgents.family("")).isEqualTo("none");
        assertThat(UserAgents.family(null)).isEqualTo("none");
        assertThat(UserAgents.family("()")).isEqualTo("other");
        assertThat(UserAgents.family("x".repeat(500))).hasSize(UserAgents.MAX_FAMILY);
    }
}
