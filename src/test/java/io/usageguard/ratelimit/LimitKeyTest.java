package io.usageguard.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The scope keys of the rate limiter: equal by their parts (the local store finds an entry with a
 * fresh instance), and named in Redis exactly as before they existed (replicas of the previous
 * version share the same buckets during a rolling upgrade).
 */
class LimitKeyTest {

    @Test
    void equalByPartsNotByInstance() {
        String account = new String("acme");
        LimitKey a = LimitKey.key("ug:", account, "gpt-*", "key_1");
        LimitKey b = LimitKey.key("ug:", "acme", new String("gpt-*"), new String("key_1"));
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(LimitKey.key("ug:", "acme", "gpt-*", "key_2"))
                .isNotEqualTo(LimitKey.account("ug:", "acme", "gpt-*"))
                .isNotEqualTo(LimitKey.key("ug:", "acme", "other-*", "key_1"));
        assertThat(LimitKey.account("ug:", "acme", "gpt-*")).isNotEqualTo(LimitKey.global("ug:", "gpt-*"))
                .isNotEqualTo(LimitKey.account("ug:", "acme2", "gpt-*"));
        assertThat(LimitKey.global("ug:", "gpt-*")).isEqualTo(LimitKey.global("ug:", "gpt-*"));
    }

    @Test
    void redisNamesAreThoseOfThePreviousVersion() {
        assertThat(LimitKey.account("ug:", "acme", "gpt-*").bucket(Window.Unit.REQUESTS)).isEqualTo("ug:{acme}:gpt-*:req");
        assertThat(LimitKey.key("ug:", "acme", "gpt-*", "key_1").bucket(Window.Unit.TOKENS))
                .isEqualTo("ug:{acme}:gpt-*:k:key_1:tok");
        assertThat(LimitKey.global("ug:", "gpt-*").bucket(Window.Unit.IMAGES)).isEqualTo("ug:{m:gpt-*}:img");
        assertThat(LimitKey.account("ug:", "acme", "gpt-*").concurrency()).isEqualTo("ug:{acme}:gpt-*:conc");
        assertThat(LimitKey.key("ug:", "acme", "gpt-*", "key_1").concurrency()).isEqualTo("ug:{acme}:gpt-*:k:key_1:conc");
        assertThat(LimitKey.global("ug:", "gpt-*").concurrency()).isEqualTo("ug:{m:gpt-*}:conc");
    }

    @Test
    void bracesCannotMoveTheHashTag() {
        assertThat(LimitKey.account("ug:", "a}b{c%", "m{1}").bucket(Window.Unit.REQUESTS))
                .isEqualTo("ug:{a%7Db%7Bc%25}:m%7B1%7D:req");
    }
}
