package io.usageguard.sharing;

import java.time.Clock;
import java.util.concurrent.Executor;

import io.lettuce.core.RedisClient;
import io.micrometer.core.instrument.MeterRegistry;
import io.usageguard.admin.AdminService;
import io.usageguard.propagation.ChangeBus;
import io.usageguard.registry.RegistryProperties;
import io.usageguard.registry.RegistryRepository;
import io.usageguard.state.StateProperties;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

@Configuration(proxyBeanMethods = false)
public class SharingConfiguration {

    /** Redis mode only: the shared HyperLogLogs. */
    @Bean(destroyMethod = "close")
    @ConditionalOnProperty(name = "usage-guard.state.store", havingValue = "redis")
    RedisSharingStore redisSharingStore(StateProperties state, RedisClient redis, SharingProperties properties) {
        return new RedisSharingStore(redis, state.redis().keyPrefix(), properties,
                state.redis().commandTimeout());
    }

    /** Also the {@link io.usageguard.admin.KeySignals} of the admin API and the {@link io.usageguard.ratelimit.LimitAdjustments} of the rate limiter. */
    @Bean
    KeySharingMonitor keySharingMonitor(SharingProperties properties, Clock clock, AdminService admin,
                                        ObjectProvider<RedisSharingStore> redis, StateProperties state,
                                        RegistryRepository registry, RegistryProperties registryProperties,
                                        @Qualifier("registryLoader") Executor loader, ChangeBus changes,
                                        MeterRegistry meters) {
        return new KeySharingMonitor(properties, clock, admin, redis.getIfAvailable(), state.onStoreFailure(),
                (onKeyChanged, onAll) -> new SharingSettings(properties, registry, registryProperties, loader,
                        changes, onKeyChanged, onAll),
                meters);
    }
}
