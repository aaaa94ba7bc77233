package io.usageguard.sharing;

import java.net.InetAddress;
import java.time.Clock;
import java.time.Instant;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.usageguard.admin.AdminService;
import io.usageguard.admin.KeySignals;
import io.usageguard.core.Cidr;
import io.usageguard.core.Durations;
import io.usageguard.core.ErrorCode;
import io.usageguard.core.GuardRejection;
import io.usageguard.identity.ApiKey;
import io.usageguard.identity.IdentityFilter;
import io.usageguard.identity.KeyStatus;
import io.usageguard.ratelimit.LimitAdjustments;
import io.usageguard.sharing.KeyWindow.Level;
import io.usageguard.sharing.SharingProperties.Action;
import io.usageguard.state.StateProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Key sharing (agreement §2.2.3): counts, per key, the distinct client networks and User-Agent
 * families of its requests over a sliding window, and acts when a key crosses its thresholds —
 * {@code observe} (log and metric), {@code throttle} (its limits cut through {@link LimitAdjustments})
 * or {@code suspend} (the key is suspended in the registry with reason {@code suspected_transfer},
 * actor {@code gateway}). In {@code local} state mode the counts are this replica's; in {@code redis}
 * mode they are Redis HyperLogLogs shared by all replicas, and this replica keeps only what it
 * needs to avoid a round trip on every request.
 */
public final class KeySharingMonitor implements KeySignals, LimitAdjustments {

    static final String SUSPECTED_TRANSFER = "suspected_transfer";

    private static final Logger log = LoggerFactory.getLogger(KeySharingMonitor.class);
    private static final Mono<Boolean> PASS = Mono.just(Boolean.FALSE);
    private static final Mono<Boolean> REFUSE = Mono.just(Boolean.TRUE);

    private final SharingProperties properties;
    private final Clock clock;
    private final AdminService admin;
    private final RedisSharingStore redis;
    private final boolean failOpen;
    private final SharingSettings settings;
    private final Cache<String, KeyWindow> windows;
    /** The sliding-window counting shared by every key's networks and agents (the state is in each {@link KeyWindow}). */
    private final DistinctWindow distinct;
    private final long subWindowMillis;
    private final long windowMillis;
    private final long recountMillis;
    private final Map<Action, Counter> blockFlags = new EnumMap<>(Action.class);
    private final Counter warnFlags;
    private final Counter storeErrors;

    KeySharingMonitor(SharingProperties properties, Clock clock, AdminService admin, RedisSharingStore redis,
                      StateProperties.OnStoreFailure onStoreFailure, SharingSettingsFactory settingsFactory,
                      MeterRegistry meters) {
        this.properties = properties;
        this.clock = clock;
        this.admin = admin;
        this.redis = redis;
        this.failOpen = onStoreFailure == StateProperties.OnStoreFailure.FAIL_OPEN;
        this.subWindowMillis = properties.subWindowMillis();
        this.windowMillis = subWindowMillis * properties.subWindows();
        this.recountMillis = properties.recountInterval().toMillis();
        this.distinct = new DistinctWindow(properties.subWindows(), properties.exactCap(), properties.sketchLgK());
        this.windows = Caffeine.newBuilder()
                .maximumSize(properties.maxTrackedKeys())
                .expireAfterAccess(windowMillis + subWindowMillis, TimeUnit.MILLISECONDS)
                .executor(Runnable::run) // upkeep on the caller: no thread hand-off on the request path
                .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
                .build();
        // redis mode: the truth is in Redis, so a registry change to a key (reinstated elsewhere, new
        // settings) simply drops this replica's copy; local mode: the copy is the truth and stays
        this.settings = settingsFactory.create(
                keyId -> {
                    if (redis != null) {
                        windows.invalidate(keyId);
                    }
                },
                () -> {
                    if (redis != null) {
                        windows.invalidateAll();
                    }
                });
        for (Action a : Action.values()) {
            blockFlags.put(a, flagCounter(meters, a.label()));
        }
        this.warnFlags = flagCounter(meters, "warn");
        this.storeErrors = Counter.builder("usage_guard_state_store_errors")
                .description("Failed operations on the shared state store")
                .tag("store", "redis").register(meters);
    }

    @FunctionalInterface
    interface SharingSettingsFactory {
        SharingSettings create(java.util.function.Consumer<String> onKeyChanged, Runnable onAllChanged);
    }

    private static Counter flagCounter(MeterRegistry meters, String action) {
        return Counter.builder("usage_guard_key_sharing_flags")
                .description("API keys that crossed a key-sharing threshold, by what was done")
                .tag("action", action).register(meters);
    }

    // ---- the request path -------------------------------------------------------------------

    /**
     * Records this request's network and agent for its key; emits true when the request must be
     * refused (the key has just been suspended for suspected transfer). Waits only when something
     * new must be counted: in redis mode one round trip, in local mode never.
     */
    Mono<Boolean> onRequest(ApiKey key, InetAddress clientIp, String userAgent) {
        if (!properties.enabled() || key == null || clientIp == null || key.sharingExempt()) {
            return PASS;
        }
        long now = clock.millis();
        long slot = Math.floorDiv(now, subWindowMillis);
        long network = NetworkKeys.of(clientIp, properties.ipv4Prefix(), properties.ipv6Prefix());
        String family = UserAgents.family(userAgent);
        long agent = NetworkKeys.ofString(family);
        KeyWindow w = windows.get(key.id(), id -> new KeyWindow());
        int n;
        int a;
        int localNetworks = 0;
        int localAgents = 0;
        boolean recount = false;
        synchronized (w) {
            if (w.suspendedHere && properties.action() == Action.SUSPEND) {
                return REFUSE;
            }
            n = distinct.add(w, KeyWindow.NETWORKS, network, slot);
            a = distinct.add(w, KeyWindow.AGENTS, agent, slot);
            if (n != DistinctWindow.SEEN || a != DistinctWindow.SEEN) {
                // this replica's own view: the count in local mode, the fallback in redis mode
                localNetworks = distinct.count(w, KeyWindow.NETWORKS, slot);
                localAgents = distinct.count(w, KeyWindow.AGENTS, slot);
            } else if (redis != null && !w.recountInFlight && now - w.remoteCountedAt >= recountMillis) {
                w.recountInFlight = true;
                recount = true;
            }
        }
        if (n == DistinctWindow.SEEN && a == DistinctWindow.SEEN) {
            if (recount) {
                recountInBackground(key, w, slot, now);
            }
            return PASS;
        }
        if (redis == null) {
            return decide(key, w, localNetworks, localAgents, now);
        }
        int fallbackNetworks = localNetworks;
        int fallbackAgents = localAgents;
        String networkText = n != DistinctWindow.SEEN
                ? Cidr.networkOf(clientIp, properties.ipv4Prefix(), properties.ipv6Prefix()) : null;
        return redis.record(key.id(), slot, networkText, a != DistinctWindow.SEEN ? family : null)
                .map(c -> {
                    synchronized (w) {
                        w.remoteCountedAt = now;
                    }
                    return new int[] {(int) c.networks(), (int) c.agents()};
                })
                .onErrorResume(e -> {
                    storeFailed("count", e);
                    return failOpen ? Mono.empty() : Mono.just(new int[] {fallbackNetworks, fallbackAgents});
                })
                .flatMap(c -> decide(key, w, c[0], c[1], now))
                .defaultIfEmpty(Boolean.FALSE);
    }

    private void recountInBackground(ApiKey key, KeyWindow w, long slot, long now) {
        redis.count(key.id(), slot)
                .flatMap(c -> {
                    synchronized (w) {
                        w.remoteCountedAt = now;
                    }
                    return decide(key, w, (int) c.networks(), (int) c.agents(), now);
                })
                .doFinally(s -> {
                    synchronized (w) {
                        w.recountInFlight = false;
                    }
                })
                .subscribe(refuse -> {
                }, e -> storeFailed("recount", e));
    }

    /** Compares the counts with the key's thresholds; emits true when this request is to be refused. */
    private Mono<Boolean> decide(ApiKey key, KeyWindow w, int networks, int agents, long now) {
        if (networks <= 1) {
            synchronized (w) {
                w.level = Level.NONE;
            }
            return PASS; // no threshold (each at least 1) can be crossed: no need for the key's settings
        }
        return settings.thresholds(key.id()).flatMap(t -> apply(key, w, networks, agents, t, now));
    }

    private Mono<Boolean> apply(ApiKey key, KeyWindow w, int networks, int agents, Thresholds t, long now) {
        Level target = networks > t.blockNetworks() ? Level.BLOCK
                : networks > t.warnNetworks() ? Level.WARN : Level.NONE;
        boolean block = false;
        boolean warn = false;
        synchronized (w) {
            w.level = target;
            if (target == Level.BLOCK) {
                KeyWindow.Crossings c = w.crossings();
                if (now - c.blockEventAt >= windowMillis) {
                    c.blockEventAt = now;
                    c.warnEventAt = now;
                    block = true;
                }
            } else if (target == Level.WARN) {
                KeyWindow.Crossings c = w.crossings();
                if (now - c.warnEventAt >= windowMillis) {
                    c.warnEventAt = now;
                    warn = true;
                }
            }
        }
        if (!block && !warn) {
            return PASS;
        }
        boolean isBlock = block;
        String level = isBlock ? "block" : "warn";
        Mono<Boolean> claimed = redis == null ? Mono.just(Boolean.TRUE)
                : redis.claim(key.id(), level, (isBlock ? properties.action().label() : "warn") + "|" + now, isBlock)
                .onErrorResume(e -> {
                    storeFailed("claim", e);
                    return Mono.just(Boolean.TRUE); // act on this replica's own view rather than not at all
                });
        return claimed.map(won -> {
            if (!won) {
                return Boolean.FALSE; // another replica raised this crossing
            }
            return isBlock ? block(key, w, networks, agents, t, now) : warn(key, w, networks, agents, t, now);
        });
    }

    private boolean warn(ApiKey key, KeyWindow w, int networks, int agents, Thresholds t, long now) {
        synchronized (w) {
            w.crossings().warnedAt = now;
        }
        warnFlags.increment();
        event("warn", key, networks, agents, t.warnNetworks(), "warn");
        return false;
    }

    private boolean block(ApiKey key, KeyWindow w, int networks, int agents, Thresholds t, long now) {
        Action action = properties.action();
        synchronized (w) {
            KeyWindow.Crossings c = w.crossings();
            c.crossedAt = now;
            c.actionTaken = action.label();
            if (action == Action.SUSPEND) {
                w.suspendedHere = true;
            }
        }
        blockFlags.get(action).increment();
        event("block", key, networks, agents, t.blockNetworks(), action.label());
        if (action != Action.SUSPEND) {
            return false;
        }
        Mono.fromCallable(() -> admin.changeKeyStatus(key.id(), KeyStatus.SUSPENDED, SUSPECTED_TRANSFER,
                        "key_suspended", AdminService.ACTOR_GATEWAY))
                .subscribeOn(Schedulers.boundedElastic())
                .subscribe(view -> {
                }, e -> {
                    log.error("key sharing: could not suspend key {} ({}); will retry at its next crossing check",
                            key.id(), key.prefix(), e);
                    synchronized (w) {
                        w.suspendedHere = false;
                        w.crossings().blockEventAt = Long.MIN_VALUE / 2;
                    }
                    if (redis != null) {
                        redis.release(key.id(), "block");
                    }
                });
        return true;
    }

    /** One structured event per crossing: key id and prefix, never the key, never an address. */
    private void event(String level, ApiKey key, int networks, int agents, int threshold, String action) {
        log.atWarn()
                .addKeyValue("event", "key_sharing_flag")
                .addKeyValue("level", level)
                .addKeyValue("action", action)
                .addKeyValue("key_id", key.id())
                .addKeyValue("key_prefix", key.prefix())
                .addKeyValue("account_id", key.accountId())
                .addKeyValue("distinct_networks", networks)
                .addKeyValue("distinct_agents", agents)
                .addKeyValue("threshold", threshold)
                .addKeyValue("window", Durations.openAi(properties.window()))
                .log("key sharing: key {} ({}) of account {} seen from {} distinct networks and {} agent families"
                                + " in {} (more than {}): {}", key.id(), key.prefix(), key.accountId(), networks, agents,
                        Durations.openAi(properties.window()), threshold, action);
    }

    private void storeFailed(String what, Throwable e) {
        storeErrors.increment();
        if (log.isDebugEnabled()) {
            log.debug("key sharing: redis {} failed: {}", what, e.toString());
        }
    }

    GuardRejection suspended(ApiKey key) {
        ApiKey asSuspended = new ApiKey(key.id(), key.accountId(), key.name(), key.prefix(), KeyStatus.SUSPENDED,
                SUSPECTED_TRANSFER, key.expiresAt(), key.allowedCidrs(), key.sharingExempt(), key.createdAt());
        return new GuardRejection(ErrorCode.API_KEY_SUSPENDED, IdentityFilter.suspendedMessage(asSuspended));
    }

    // ---- throttle ---------------------------------------------------------------------------

    @Override
    public double keyFactor(ApiKey key) {
        if (properties.action() != Action.THROTTLE || key == null || key.sharingExempt()) {
            return 1.0;
        }
        KeyWindow w = windows.getIfPresent(key.id());
        if (w == null) {
            return 1.0;
        }
        synchronized (w) {
            return w.level == Level.BLOCK ? properties.throttleFactor() : 1.0;
        }
    }

    // ---- review (admin API) -------------------------------------------------------------------

    @Override
    public Map<String, Object> describe(String keyId) {
        long now = clock.millis();
        long slot = Math.floorDiv(now, subWindowMillis);
        Thresholds t = settings.thresholdsNow(keyId);
        Map<String, Object> out = new LinkedHashMap<>();
        KeyWindow w = windows.getIfPresent(keyId);
        Long networks = null;
        Long agents = null;
        String warnFlag = null;
        String blockFlag = null;
        String store = "local";
        if (redis != null) {
            store = "redis";
            try {
                Object[] r = redis.describe(keyId, slot);
                networks = (Long) r[0];
                agents = (Long) r[1];
                warnFlag = (String) r[2];
                blockFlag = (String) r[3];
            } catch (Exception e) {
                storeFailed("describe", e);
                store = "local (redis unavailable)";
            }
        }
        Long warnedAt = null;
        Long crossedAt = null;
        String actionTaken = null;
        String level = Level.NONE.name();
        if (w != null) {
            synchronized (w) {
                if (networks == null) {
                    networks = (long) distinct.count(w, KeyWindow.NETWORKS, slot);
                    agents = (long) distinct.count(w, KeyWindow.AGENTS, slot);
                }
                KeyWindow.Crossings c = w.crossingsIfAny();
                if (c != null) {
                    warnedAt = c.warnedAt >= 0 ? c.warnedAt : null;
                    crossedAt = c.crossedAt >= 0 ? c.crossedAt : null;
                    actionTaken = c.actionTaken;
                }
            }
        }
        if (networks == null) {
            networks = 0L;
            agents = 0L;
        }
        if (warnFlag != null) {
            warnedAt = flagTime(warnFlag, warnedAt);
        }
        if (blockFlag != null) {
            crossedAt = flagTime(blockFlag, crossedAt);
            int bar = blockFlag.indexOf('|');
            actionTaken = bar > 0 ? blockFlag.substring(0, bar) : actionTaken;
        }
        level = networks > t.blockNetworks() ? Level.BLOCK.name()
                : networks > t.warnNetworks() ? Level.WARN.name() : level;
        out.put("distinctNetworks", networks);
        out.put("distinctAgents", agents);
        out.put("window", Durations.openAi(properties.window()));
        out.put("warnNetworks", t.warnNetworks());
        out.put("blockNetworks", t.blockNetworks());
        out.put("thresholdsOverridden", t.overridden());
        out.put("action", properties.action().label());
        out.put("level", level);
        out.put("warnedAt", warnedAt == null ? null : Instant.ofEpochMilli(warnedAt).toString());
        out.put("crossedAt", crossedAt == null ? null : Instant.ofEpochMilli(crossedAt).toString());
        out.put("actionTaken", actionTaken);
        out.put("store", store);
        return out;
    }

    private static Long flagTime(String flag, Long otherwise) {
        int bar = flag.indexOf('|');
        try {
            return bar > 0 ? Long.parseLong(flag.substring(bar + 1)) : otherwise;
        } catch (NumberFormatException e) {
            return otherwise;
        }
    }

    /** Called when the key is reinstated: its window starts empty, here and in Redis. */
    @Override
    public void clear(String keyId) {
        windows.invalidate(keyId);
        settings.invalidate(keyId);
        if (redis != null) {
            try {
                redis.clear(keyId, Math.floorDiv(clock.millis(), subWindowMillis));
            } catch (Exception e) {
                storeFailed("clear", e);
                log.warn("key sharing: could not clear key {} in redis: {}", keyId, e.toString());
            }
            // the reinstatement was announced before the Redis keys were gone: announce once more, so
            // that no replica keeps a copy it re-read in between
            settings.announce(keyId);
        }
        log.info("key sharing: signals of key {} cleared", keyId);
    }

    /** For tests and the memory benchmark: how many keys this replica tracks. */
    long trackedKeys() {
        windows.cleanUp();
        return windows.estimatedSize();
    }
}
