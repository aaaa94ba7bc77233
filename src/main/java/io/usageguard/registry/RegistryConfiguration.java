package io.usageguard.registry;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.concurrent.CustomizableThreadFactory;

@Configuration(proxyBeanMethods = false)
public class RegistryConfiguration {

    /**
     * The threads that load keys and accounts from the database on a cache miss or refresh. Bounded:
     * a flood of unknown keys cannot grow it (and failed authentications are limited per IP).
     */
    @Bean(name = "registryLoader", destroyMethod = "shutdown")
    ExecutorService registryLoader(RegistryProperties properties) {
        CustomizableThreadFactory threads = new CustomizableThreadFactory("registry-loader-");
        threads.setDaemon(true);
        return new ThreadPoolExecutor(properties.loaderThreads(), properties.loaderThreads(), 60, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(10_000), threads, new ThreadPoolExecutor.AbortPolicy());
    }
}
