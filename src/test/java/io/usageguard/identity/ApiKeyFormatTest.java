package io.usageguard.identity;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

class ApiKeyFormatTest {

    @Test
    void issuedKeysHaveTheContractsShapeAndAValidChecksum() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            String key = ApiKeyFormat.generate();
            assertThat(key).matches("sk-[0-9A-Za-z]{46}");
            assertThat(ApiKeyFormat.classify(key)).isEqualTo(ApiKeyFormat.Shape.ISSUED);
            assertThat(seen.add(key)).isTrue();
        }
    }

    @Test
    void anyChangedCharacterBreaksTheChecksum() {
        String key = ApiKeyFormat.generate();
        int broken = 0;
        for (int i = 3; i < key.length(); i++) {
            char c = key.charAt(i);
            String changed = key.substring(0, i) + (c == 'a' ? 'b' : 'a') + key.substring(i + 1);
            if (ApiKeyFormat.classify(changed) == ApiKeyFormat.Shape.MALFORMED) {
                broken++;
            }
        }
        assertThat(broken).isEqualTo(key.length() - 3);
    }

    @Test
    void legacyAndMalformedKeys() {
        assertThat(ApiKeyFormat.classify("legacy-key-0123456789abc")).isEqualTo(ApiKeyFormat.Shape.LEGACY);
        assertThat(ApiKeyFormat.classify("x".repeat(200))).isEqualTo(ApiKeyFormat.Shape.LEGACY);
        assertThat(ApiKeyFormat.classify("x".repeat(201))).isEqualTo(ApiKeyFormat.Shape.MALFORMED);
        assertThat(ApiKeyFormat.classify("too-short")).isEqualTo(ApiKeyFormat.Shape.MALFORMED);
        assertThat(ApiKeyFormat.classify("has a space in it 0123456789")).isEqualTo(ApiKeyFormat.Shape.MALFORMED);
        assertThat(ApiKeyFormat.classify("non-ascii-ключ-0123456789")).isEqualTo(ApiKeyFormat.Shape.MALFORMED);
        assertThat(ApiKeyFormat.classify(null)).isEqualTo(ApiKeyFormat.Shape.MALFORMED);
    }

    @Test
    void theDemoKeyIsStable() {
        assertThat(ApiKeyFormat.withChecksum("DemoKeyForTryingUsageGuardLocally0000000"))
                .isEqualTo(ApiKeyFormat.withChecksum("DemoKeyForTryingUsageGuardLocally0000000"))
                .satisfies(k -> assertThat(ApiKeyFormat.classify(k)).isEqualTo(ApiKeyFormat.Shape.ISSUED));
    }

    @Test
    void hashIsHexSha256() {
        assertThat(ApiKeyFormat.hash("abc")).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
