package io.usageguard.packaging;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import org.yaml.snakeyaml.Yaml;

/**
 * The chart at {@code helm/usage-guard}, linted and rendered by the real Helm library (helm-java
 * bundles Helm as a native library), and its manifests parsed with SnakeYAML.
 */
final class HelmChart {

    static final Path DIR = Path.of("helm", "usage-guard");
    static final Path PRODUCTION_VALUES = DIR.resolve("ci/production-values.yaml");
    static final String RELEASE = "usage-guard";
    static final String NAMESPACE = "ai-gateway";

    private HelmChart() {
    }

    /** {@code helm template} with the chart's defaults, an optional values file and {@code --set}s. */
    static Rendered template(Path valuesFile, Map<String, Object> sets) {
        TemplateCommand command = new Helm(DIR).template().withName(RELEASE).withNamespace(NAMESPACE);
        if (valuesFile != null) {
            command = command.withValuesFile(valuesFile.toAbsolutePath());
        }
        for (Map.Entry<String, Object> set : sets.entrySet()) {
            command = command.set(set.getKey(), set.getValue());
        }
        return new Rendered(parse(command.call()));
    }

    static Rendered template(Path valuesFile) {
        return template(valuesFile, Map.of());
    }

    /**
     * {@code helm lint --strict}. helm-java's lint takes no values file, so with one the chart is
     * copied and its values.yaml replaced by the defaults merged with the file the way Helm merges
     * them (maps deeply, everything else replaced, null deletes).
     */
    static LintResult lint(Path valuesFile) {
        if (valuesFile == null) {
            return new Helm(DIR).lint().strict().call();
        }
        try {
            Path copy = Files.createTempDirectory("usage-guard-chart").resolve("usage-guard");
            try (Stream<Path> files = Files.walk(DIR)) {
                for (Path source : (Iterable<Path>) files::iterator) {
                    Path target = copy.resolve(DIR.relativize(source).toString());
                    if (Files.isDirectory(source)) {
                        Files.createDirectories(target);
                    } else {
                        Files.copy(source, target);
                    }
                }
            }
            Map<String, Object> merged = merge(yamlMap(DIR.resolve("values.yaml")), yamlMap(valuesFile));
            Files.writeString(copy.resolve("values.yaml"), new Yaml().dump(merged));
            return new Helm(copy).lint().strict().call();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> merge(Map<String, Object> base, Map<String, Object> override) {
        Map<String, Object> result = new LinkedHashMap<>(base);
        override.forEach((key, value) -> {
            if (value == null) {
                result.remove(key);
            } else if (value instanceof Map<?, ?> m && result.get(key) instanceof Map<?, ?> b) {
                result.put(key, merge((Map<String, Object>) b, (Map<String, Object>) m));
            } else {
                result.put(key, value);
            }
        });
        return result;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> yamlMap(Path file) {
        try {
            Map<String, Object> map = new Yaml().load(Files.readString(file));
            return map == null ? Map.of() : map;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> yamlMap(String text) {
        Map<String, Object> map = new Yaml().load(text);
        return map == null ? Map.of() : map;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> parse(String manifests) {
        List<Map<String, Object>> documents = new ArrayList<>();
        for (Object document : new Yaml().loadAll(manifests)) {
            if (document != null) {
                documents.add((Map<String, Object>) document);
            }
        }
        return documents;
    }

    /** The manifests of one rendering. */
    record Rendered(List<Map<String, Object>> documents) {

        List<Map<String, Object>> all(String kind) {
            return documents.stream().filter(d -> kind.equals(d.get("kind"))).toList();
        }

        Map<String, Object> one(String kind) {
            List<Map<String, Object>> found = all(kind);
            if (found.size() != 1) {
                throw new AssertionError("expected one " + kind + ", found " + found.size());
            }
            return found.get(0);
        }

        Map<String, Object> named(String kind, String name) {
            return all(kind).stream().filter(d -> name.equals(at(d, "metadata.name"))).findFirst()
                    .orElseThrow(() -> new AssertionError("no " + kind + " named " + name));
        }

        boolean has(String kind) {
            return !all(kind).isEmpty();
        }

        Map<String, Object> deployment() {
            return one("Deployment");
        }

        Map<String, Object> podSpec() {
            return map(at(deployment(), "spec.template.spec"));
        }

        Map<String, Object> container() {
            return map(list(podSpec().get("containers")).get(0));
        }

        /** The gateway's rendered application.yml (static config). */
        String applicationYml() {
            return (String) at(named("ConfigMap", RELEASE + "-config"), "data.application.yml");
        }

        /** The gateway's rendered limits.yml (live config). */
        String limitsYml() {
            return (String) at(named("ConfigMap", RELEASE + "-limits"), "data.limits.yml");
        }

        /** The container's command-line arguments as property name → value. */
        Map<String, String> args() {
            Map<String, String> args = new LinkedHashMap<>();
            for (Object arg : list(container().get("args"))) {
                String s = (String) arg;
                if (!s.startsWith("--") || s.indexOf('=') < 0) {
                    throw new AssertionError("not a --property=value argument: " + s);
                }
                args.put(s.substring(2, s.indexOf('=')), s.substring(s.indexOf('=') + 1));
            }
            return args;
        }

        /** The container's environment variables by name (each the raw {@code env} entry). */
        Map<String, Map<String, Object>> env() {
            Map<String, Map<String, Object>> env = new LinkedHashMap<>();
            Object entries = container().get("env");
            if (entries != null) {
                for (Object e : list(entries)) {
                    env.put((String) map(e).get("name"), map(e));
                }
            }
            return env;
        }
    }

    /** A value by dotted path; a segment may not contain dots except the last map key lookups below. */
    static Object at(Map<String, Object> root, String path) {
        Object current = root;
        String[] parts = path.split("\\.");
        for (int i = 0; i < parts.length; i++) {
            if (!(current instanceof Map<?, ?> m)) {
                return null;
            }
            // keys such as "application.yml" contain a dot: try the rest of the path as one key first
            String rest = String.join(".", java.util.Arrays.copyOfRange(parts, i, parts.length));
            if (m.containsKey(rest)) {
                return m.get(rest);
            }
            current = m.get(parts[i]);
        }
        return current;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) {
        return (Map<String, Object>) Objects.requireNonNull(o, "missing map");
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object o) {
        return (List<Object>) Objects.requireNonNull(o, "missing list");
    }
}
