package io.usageguard.state;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The Lettuce client, only when {@code usage-guard.state.store=redis}. */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "usage-guard.state.store", havingValue = "redis")
public class RedisConfiguration {

    @Bean(destroyMethod = "shutdown")
    RedisClient usageGuardRedisClient(StateProperties properties) {
        StateProperties.Redis redis = properties.redis();
        RedisURI uri = RedisURI.create(redis.url());
        // the URI timeout also bounds the connection handshake; commands get the short timeout below
        uri.setTimeout(redis.connectTimeout());
        RedisClient client = RedisClient.create(uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                // a dead Redis must cost requests no waiting: refuse commands while disconnected
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .socketOptions(SocketOptions.builder().connectTimeout(redis.connectTimeout()).build())
                .timeoutOptions(TimeoutOptions.enabled(redis.commandTimeout()))
                .build());
        return client;
    }
}
