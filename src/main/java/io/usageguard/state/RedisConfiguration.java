package io.usageguard.state;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The Lettuce client, only when {@code usage-guard.state.store=redis}. */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "usage-guard.state.store", havingValue = "redis")
public class RedisConfiguration {

    /** Reconnects quickly (100 ms, doubling up to 1 s), so limits are shared again soon after Redis returns. */
    @Bean(destroyMethod = "shutdown")
    ClientResources usageGuardRedisResources() {
        return DefaultClientResources.builder()
                .reconnectDelay(Delay.exponential(Duration.ofMillis(100), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
                .build();
    }

    @Bean(destroyMethod = "shutdown")
    RedisClient usageGuardRedisClient(StateProperties properties, ClientResources usageGuardRedisResources) {
        StateProperties.Redis redis = properties.redis();
        RedisURI uri = uri(redis);
        RedisClient client = RedisClient.create(usageGuardRedisResources, uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                // a dead Redis must cost requests no waiting: refuse commands while disconnected
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .socketOptions(SocketOptions.builder().connectTimeout(redis.connectTimeout()).build())
                .timeoutOptions(TimeoutOptions.enabled(redis.commandTimeout()))
                .build());
        return client;
    }

    /**
     * The URI's timeout bounds the connection handshake (and blocking calls), so it is the connect
     * timeout: a cold JVM can take longer than 50 ms for its first HELLO. Commands are bounded by
     * {@code command-timeout} through the client's {@link TimeoutOptions}.
     */
    public static RedisURI uri(StateProperties.Redis redis) {
        RedisURI uri = RedisURI.create(redis.url());
        uri.setTimeout(redis.connectTimeout());
        return uri;
    }
}
