package io.usageguard.ratelimit;

import java.time.Clock;

import io.github.bucket4j.TimeMeter;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.micrometer.core.instrument.MeterRegistry;
import io.usageguard.state.RedisConfiguration;
import io.usageguard.state.StateProperties;
import io.usageguard.state.StoreCircuit;
import io.usageguard.state.StoreCircuitProperties;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Chooses the limit store from {@code usage-guard.state.store}. */
@Configuration(proxyBeanMethods = false)
public class RateLimitConfiguration {

    @Bean
    LimitStores limitStores(StateProperties state, LimitsConfig config, Clock clock, MeterRegistry registry,
                            StoreCircuitProperties circuit, ObjectProvider<RedisClient> redis) {
        TimeMeter time = new ClockTimeMeter(clock);
        long maxBuckets = config.current().limits().localMaxBuckets();
        if (state.store() == StateProperties.Store.REDIS) {
            StateProperties.Redis r = state.redis();
            RedisURI uri = RedisConfiguration.uri(r);
            RedisLimitStore primary = new RedisLimitStore(redis.getObject(), uri, time, clock,
                    config.current().limits().leaseTtl(), r.commandTimeout(), r.reserveShare(), r.reserveAhead());
            return new LimitStores(primary, new LocalLimitStore(time, maxBuckets), new StoreCircuit("redis", circuit, registry));
        }
        return new LimitStores(new LocalLimitStore(time, maxBuckets), null, null);
    }
}
