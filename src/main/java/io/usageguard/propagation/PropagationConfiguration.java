package io.usageguard.propagation;

import io.lettuce.core.RedisClient;
import io.usageguard.state.StateProperties;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

@Configuration(proxyBeanMethods = false)
public class PropagationConfiguration {

    @Bean
    ChangeBus changeBus(StateProperties state, ObjectProvider<RedisClient> redis) {
        if (state.store() == StateProperties.Store.REDIS) {
            return new RedisChangeBus(redis.getObject(), state.redis().keyPrefix() + "registry-changes");
        }
        return new LocalChangeBus();
    }
}
