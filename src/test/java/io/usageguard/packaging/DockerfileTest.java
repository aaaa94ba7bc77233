package io.usageguard.packaging;

import static io.usageguard.packaging.HelmChart.at;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * No container engine runs in CI, so the image is not built here; this checks that the Dockerfile
 * stays consistent with what the project and the chart rely on: the README's packaging command,
 * Spring Boot's layers, the uid the chart runs as, the ports the chart probes, no baked-in secret.
 */
class DockerfileTest {

    /** The packaging command of the README and docs/operations.md; the Dockerfile must run exactly this. */
    static final String PACKAGE_COMMAND = "./mvnw -B -DskipTests package";

    static List<String> instructions;
    static Map<String, Object> values;

    @BeforeAll
    static void read() throws IOException {
        instructions = instructions(Files.readString(Path.of("Dockerfile")));
        values = HelmChart.yamlMap(HelmChart.DIR.resolve("values.yaml"));
    }

    @Test
    void buildsWithTheMavenWrapperOnTemurinAndRunsOnATemurinJre() {
        List<String> from = with("FROM");
        assertThat(from).hasSize(2);
        assertThat(from.get(0)).startsWith("FROM eclipse-temurin:25-jdk AS build");
        assertThat(from.get(1)).isEqualTo("FROM eclipse-temurin:25-jre");
        assertThat(with("RUN")).anySatisfy(run -> assertThat(run).endsWith(PACKAGE_COMMAND));
        // the operator docs show the same command (the README's build section must too)
        assertThat(readString(Path.of("docs/operations.md"))).contains(PACKAGE_COMMAND);
        assertThat(with("RUN")).anySatisfy(run -> assertThat(run)
                .contains("java -Djarmode=tools -jar app.jar extract --layers --launcher"));
        // Spring Boot's four default layers, least to most frequently changing
        assertThat(with("COPY --from=build")).containsExactly(
                "COPY --from=build /layers/dependencies/ ./",
                "COPY --from=build /layers/spring-boot-loader/ ./",
                "COPY --from=build /layers/snapshot-dependencies/ ./",
                "COPY --from=build /layers/application/ ./");
        assertThat(with("ENTRYPOINT")).containsExactly(
                "ENTRYPOINT [\"java\", \"org.springframework.boot.loader.launch.JarLauncher\"]");
    }

    @Test
    void runsAsTheNonRootUserTheChartExpectsWithContainerAwareMemory() {
        int uid = (Integer) at(values, "securityContext.runAsUser");
        assertThat(uid).isEqualTo(10001).isEqualTo(at(values, "podSecurityContext.runAsUser"));
        assertThat(with("USER")).containsExactly("USER " + uid + ":" + uid);
        assertThat(with("ENV"))
                .containsExactly("ENV JAVA_TOOL_OPTIONS=\"" + at(values, "jvm.options") + "\"");
        assertThat((String) at(values, "jvm.options")).contains("-XX:MaxRAMPercentage=75", "-XX:+ExitOnOutOfMemoryError");
    }

    @Test
    void exposesTheApiAndManagementPortsTheChartUses() {
        assertThat(with("EXPOSE")).containsExactly(
                "EXPOSE " + at(values, "ports.api") + " " + at(values, "ports.management"));
    }

    @Test
    void bakesInNoSecretsAndSendsOnlyTheSourcesToTheBuild() throws IOException {
        for (String instruction : instructions) {
            String upper = instruction.toUpperCase(Locale.ROOT);
            if (upper.startsWith("ENV") || upper.startsWith("ARG")) {
                assertThat(upper).doesNotContain("TOKEN", "PASSWORD", "SECRET", "REDIS");
            }
        }
        List<String> ignore = Files.readAllLines(Path.of(".dockerignore")).stream()
                .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        assertThat(ignore).containsExactly("*", "!mvnw", "!.mvn/", "!pom.xml", "!src/");
    }

    private static String readString(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static List<String> with(String prefix) {
        return instructions.stream().filter(i -> i.startsWith(prefix + " ") || i.equals(prefix)).toList();
    }

    /** Dockerfile instructions with comments dropped and continuation lines joined. */
    private static List<String> instructions(String dockerfile) {
        List<String> result = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : dockerfile.split("\n")) {
            String stripped = line.strip();
            if (stripped.startsWith("#") || (stripped.isEmpty() && current.isEmpty())) {
                continue;
            }
            if (stripped.endsWith("\\")) {
                current.append(stripped, 0, stripped.length() - 1).append(' ');
                continue;
            }
            current.append(stripped);
            result.add(current.toString().replaceAll("\\s+", " ").strip());
            current.setLength(0);
        }
        return result;
    }
}
