package io.usageguard.identity;

import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

@Configuration(proxyBeanMethods = false)
public class IdentityConfiguration {

    @Bean
    @ConditionalOnMissingBean
    FailedAuthentications noFailedAuthenticationLimit() {
        return ctx -> {
        };
    }
}
