package io.usageguard.propagation;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Several replicas: a change is applied here at once and published on a Redis channel that every
 * replica subscribes to. Lettuce reconnects and resubscribes by itself; since messages sent while
 * disconnected are lost, a replica that reconnects drops its whole cache once.
 */
public class RedisChangeBus extends LocalChangeBus implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RedisChangeBus.class);

    private final String channel;
    private final String origin = UUID.randomUUID().toString();
    private final StatefulRedisConnection<String, String> publisher;
    private final StatefulRedisPubSubConnection<String, String> subscriber;
    private final AtomicBoolean lostConnection = new AtomicBoolean();

    public RedisChangeBus(RedisClient client, String channel) {
        this.channel = channel;
        this.publisher = client.connect();
        this.subscriber = client.connectPubSub();
        this.subscriber.addListener(new RedisPubSubAdapter<>() {
            @Override
            public void message(String ch, String message) {
                if (!channel.equals(ch)) {
                    return;
                }
                int bar = message.indexOf('|');
                if (bar > 0 && message.startsWith(origin)) {
                    return; // our own, already applied
                }
                deliver(RegistryChange.decode(bar > 0 ? message.substring(bar + 1) : message));
            }
        });
        client.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(io.lettuce.core.RedisChannelHandler<?, ?> connection) {
                lostConnection.set(true);
            }

            @Override
            public void onRedisConnected(io.lettuce.core.RedisChannelHandler<?, ?> connection,
                                         java.net.SocketAddress socketAddress) {
                if (lostConnection.compareAndSet(true, false)) {
                    log.info("registry change channel reconnected; dropping cached keys and accounts once");
                    deliver(RegistryChange.all());
                }
            }
        });
        this.subscriber.sync().subscribe(channel);
    }

    @Override
    public void publish(RegistryChange change) {
        deliver(change);
        publisher.async().publish(channel, origin + '|' + change.encode()).whenComplete((n, e) -> {
            if (e != null) {
                log.warn("could not announce a registry change to other replicas: {}", e.toString());
            }
        });
    }

    @Override
    public void close() {
        subscriber.closeAsync();
        publisher.closeAsync();
    }
}
