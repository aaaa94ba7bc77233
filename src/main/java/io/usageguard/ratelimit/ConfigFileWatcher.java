package io.usageguard.ratelimit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.cloud.context.refresh.ContextRefresher;
import org.springframework.context.event.EventListener;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/**
 * Reloads the configuration when a config file changes on disk, as {@code /actuator/refresh} does.
 * Watches {@code usage-guard.config.watch} (comma-separated files), or else the files named by
 * {@code spring.config.additional-location} (a directory stands for the {@code application.yml},
 * {@code application.yaml} and {@code application.properties} in it). Every
 * {@code usage-guard.config.watch-interval} (default 2 s) it compares each file's content checksum
 * with the last one seen; on a change it runs Spring Cloud's {@link ContextRefresher}, which
 * rebinds the environment and publishes the {@code EnvironmentChangeEvent} the limits reload on.
 * Runs on its own daemon thread, never on a request's.
 */
@Component
public class ConfigFileWatcher implements DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(ConfigFileWatcher.class);

    private final List<Path> files;
    private final long[] seen;
    private final Duration interval;
    private final ObjectProvider<ContextRefresher> refresher;
    private ScheduledExecutorService executor;

    public ConfigFileWatcher(Environment environment, ObjectProvider<ContextRefresher> refresher) {
        this.refresher = refresher;
        this.interval = environment.getProperty("usage-guard.config.watch-interval", Duration.class, Duration.ofSeconds(2));
        String watch = environment.getProperty("usage-guard.config.watch", "");
        this.files = watch.isBlank() ? fromLocations(environment.getProperty("spring.config.additional-location", ""))
                : paths(watch, false);
        this.seen = new long[files.size()];
        for (int i = 0; i < files.size(); i++) {
            seen[i] = checksum(files.get(i));
        }
    }

    @EventListener(ApplicationReadyEvent.class)
    public void start() {
        if (files.isEmpty() || executor != null || interval.isZero() || interval.isNegative()) {
            return;
        }
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "usage-guard-config-watch");
            t.setDaemon(true);
            return t;
        });
        executor.scheduleWithFixedDelay(this::poll, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
        log.info("watching {} for configuration changes every {}", files, interval);
    }

    /** One look at every watched file; refreshes once if any changed. */
    void poll() {
        boolean changed = false;
        for (int i = 0; i < files.size(); i++) {
            long sum = checksum(files.get(i));
            if (sum != seen[i]) {
                seen[i] = sum;
                changed = true;
            }
        }
        if (changed) {
            ContextRefresher r = refresher.getIfAvailable();
            if (r == null) {
                log.warn("a watched config file changed, but no context refresher is available");
                return;
            }
            try {
                log.info("configuration file changed; refreshed keys: {}", r.refresh());
            } catch (RuntimeException e) {
                log.error("configuration refresh failed: {}", e.toString());
            }
        }
    }

    List<Path> files() {
        return files;
    }

    static List<Path> fromLocations(String locations) {
        return paths(locations, true);
    }

    private static List<Path> paths(String spec, boolean locations) {
        List<Path> out = new ArrayList<>();
        for (String raw : spec.split(",")) {
            String s = raw.trim();
            if (s.startsWith("optional:")) {
                s = s.substring("optional:".length());
            }
            if (s.isEmpty() || s.startsWith("classpath:") || s.startsWith("configtree:")) {
                continue;
            }
            if (s.startsWith("file:")) {
                s = s.substring("file:".length());
            }
            if (s.contains("[") || s.contains("*")) {
                continue; // profile-specific or wildcard locations are not watched
            }
            Path p = Path.of(s);
            if (locations && (s.endsWith("/") || Files.isDirectory(p))) {
                out.addAll(Arrays.asList(p.resolve("application.yml"), p.resolve("application.yaml"),
                        p.resolve("application.properties")));
            } else {
                out.add(p);
            }
        }
        return List.copyOf(out);
    }

    /** CRC32 of the content; 0 for a missing or unreadable file. */
    private static long checksum(Path file) {
        try {
            CRC32 crc = new CRC32();
            crc.update(Files.readAllBytes(file));
            return crc.getValue() + 1;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    @Override
    public void destroy() {
        if (executor != null) {
            executor.shutdownNow();
        }
    }
}
