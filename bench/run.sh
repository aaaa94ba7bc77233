#!/usr/bin/env bash
# Usage Guard benchmark: the price of the restrictions, measured side by side in one run.
#   bench/run.sh                      (needs: JDK 17+, wrk, curl, redis-server on 127.0.0.1:6379 for the redis row)
# Starts a stub backend, the bare Spring Cloud Gateway route (no restrictions), Usage Guard with local
# state and with Redis state, all with the same JVM flags; drives each with wrk after a warm-up; prints
# requests/s, p50, p99 and the ratio to the bare route; then p99 at 70 % of the bare route's saturation
# and the time to the first SSE event.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
DURATION=${DURATION:-15s}      # per configuration per round
ROUNDS=${ROUNDS:-3}            # measured rounds; configurations alternate within a round, medians are reported
WARMUP_ROUNDS=${WARMUP_ROUNDS:-12} # 10 s each per configuration, alternating: C2 needs two minutes or so here
LEAN=${LEAN:-0}                # 1: also local state without reactor-netty's per-request HTTP metrics
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
JVM_FLAGS=${JVM_FLAGS:--Xms512m -Xmx512m -XX:+UseG1GC}
SSE_SAMPLES=${SSE_SAMPLES:-50}
STUB=18500; BARE=18510; LOCAL=18520; REDIS=18530; LEANPORT=18540
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }

./mvnw -q -B -DskipTests package
./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench-classpath.txt >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench-classpath.txt)"
JAR=$(ls target/usage-guard-*.jar | grep -v original | head -1)
LOGS=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

java -cp "$CP" io.usageguard.demo.StubInferenceServer $STUB >"$LOGS/stub.log" 2>&1 & PIDS+=($!)
# shellcheck disable=SC2086
# (management on the API port: no child context, so none of Usage Guard's admin beans are loaded;
# the route filter cache as in Usage Guard's application.yml: framework tuning, not a restriction)
java $JVM_FLAGS -cp "$CP" usageguardbench.BareGatewayApplication --server.port=$BARE \
  --management.server.port=$BARE --bench.backend=http://127.0.0.1:$STUB --logging.level.root=WARN \
  --spring.cloud.gateway.server.webflux.route-filter-cache-enabled=true \
  >"$LOGS/bare.log" 2>&1 & PIDS+=($!)
guard() { # port, store, [extra flags]
  # shellcheck disable=SC2086
  BENCH_STUB_PORT=$STUB java $JVM_FLAGS -jar "$JAR" --spring.config.additional-location=file:bench/guard.yml \
    --server.port=$1 --management.server.port=$(($1+1)) --usage-guard.state.store=$2 \
    --usage-guard.state.redis.key-prefix="ugbench:$$:$2:" --usage-guard.registry.url="jdbc:h2:mem:bench$2;DB_CLOSE_DELAY=-1;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE" \
    --logging.level.root=WARN ${3:-} >"$LOGS/guard-$2-$1.log" 2>&1 & PIDS+=($!)
}
guard $LOCAL local
guard $REDIS redis
# the same as local, without reactor-netty's per-request HTTP metrics (usage-guard.observability.netty-metrics=false)
if [ "$LEAN" = 1 ]; then guard $LEANPORT local --usage-guard.observability.netty-metrics=false; fi
PORTS="$BARE $((LOCAL+1)) $((REDIS+1))"; if [ "$LEAN" = 1 ]; then PORTS="$PORTS $((LEANPORT+1))"; fi
# shellcheck disable=SC2086
await_health $PORTS

KEY_LOCAL=$(issue_key $((LOCAL+1)))
KEY_REDIS=$(issue_key $((REDIS+1)))
KEY_LEAN=none; if [ "$LEAN" = 1 ]; then KEY_LEAN=$(issue_key $((LEANPORT+1))); fi

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }
# run_wrk port key duration [delay_ms [connections]] -> "rps p50ms p99ms non2xx"
run_wrk() {
  local out
  out=$(BENCH_KEY=$2 BENCH_DELAY_MS=${4:-0} wrk -t"$THREADS" -c"${5:-$CONNECTIONS}" -d"$3" --latency -s bench/post.lua \
        "http://127.0.0.1:$1/v1/chat/completions")
  local rps p50 p99 bad
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
  bad=$(echo "$out" | awk '/Non-2xx/ {print $5}'); bad=${bad:-0}
  echo "$rps $p50 $p99 $bad"
}

TARGETS="bare:$BARE:none local:$LOCAL:$KEY_LOCAL redis:$REDIS:$KEY_REDIS"
NAMES="bare local redis"
if [ "$LEAN" = 1 ]; then TARGETS="$TARGETS lean:$LEANPORT:$KEY_LEAN"; NAMES="$NAMES lean"; fi
# warm-up: every configuration in turn, until the JIT has settled
for _ in $(seq 1 "$WARMUP_ROUNDS"); do
  for target in $TARGETS; do
    IFS=: read -r name port key <<<"$target"
    run_wrk "$port" "$key" 10s >/dev/null
  done
done
# measured: ROUNDS rounds, the configurations back to back within each round (drift hits all alike)
declare -A ALL
for r in $(seq 1 "$ROUNDS"); do
  for target in $TARGETS; do
    IFS=: read -r name port key <<<"$target"
    ALL[$name]="${ALL[$name]:-}$(run_wrk "$port" "$key" "$DURATION")
"
  done
done
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
declare -A RPS P50 P99 BAD
for name in $NAMES; do
  RPS[$name]=$(echo -n "${ALL[$name]}" | awk '{print $1}' | median)
  P50[$name]=$(echo -n "${ALL[$name]}" | awk '{print $2}' | median)
  P99[$name]=$(echo -n "${ALL[$name]}" | awk '{print $3}' | median)
  BAD[$name]=$(echo -n "${ALL[$name]}" | awk '{s += $4} END {print s+0}')
done

echo
echo "Usage Guard benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(java -version 2>&1 | head -1)"
echo "wrk: $THREADS thread(s), $CONNECTIONS connections; $WARMUP_ROUNDS x 10 s warm-up, then $ROUNDS rounds of $DURATION per configuration (medians); JVM flags: $JVM_FLAGS"
printf "%-28s %12s %10s %10s %8s %8s   %s\n" configuration "requests/s" "p50 ms" "p99 ms" ratio non-2xx "per-round requests/s"
for name in $NAMES; do
  ratio=$(awk -v a="${RPS[$name]}" -v b="${RPS[bare]}" 'BEGIN { printf "%.3f", a/b }')
  case $name in
    bare) label="bare SCG route" ;;
    lean) label="local, no netty HTTP metrics" ;;
    *) label="all restrictions, $name" ;;
  esac
  rounds=$(echo -n "${ALL[$name]}" | awk '{printf "%s ", $1}')
  printf "%-28s %12s %10s %10s %8s %8s   %s\n" "$label" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "$ratio" "${BAD[$name]}" "$rounds"
done

# p99 at ~70 % of the bare route's saturation: each connection pauses PACE ms before each request
# (wrk's pause has whole-millisecond steps), and the number of connections is calibrated on the
# bare route until it runs within 5 % of 70 % of its saturation; the guarded gateway then gets the
# same connections and pauses (a closed loop: its offered load is the same, less its added latency)
PACE=${PACE:-2}
TARGET70=$(awk -v r="${RPS[bare]}" 'BEGIN { printf "%.0f", 0.7*r }')
C70=$(awk -v t="$TARGET70" -v l="${P50[bare]}" -v d="$PACE" 'BEGIN { c = t*(d+l/2)/1000; if (c < 1) c = 1; printf "%d", c+0.5 }')
for _ in 1 2 3 4; do
  read -r r _ _ _ < <(run_wrk $BARE none 5s "$PACE" "$C70")
  OK=$(awk -v r="$r" -v t="$TARGET70" 'BEGIN { print (r > 0.95*t && r < 1.05*t) ? 1 : 0 }')
  [ "$OK" = 1 ] && break
  C70=$(awk -v c="$C70" -v r="$r" -v t="$TARGET70" 'BEGIN { n = c*t/r; if (n < 1) n = 1; printf "%d", n+0.5 }')
done
P70B=""; P70L=""; R70B=""; R70L=""
for _ in 1 2; do # two alternating rounds each
  read -r r p50 p99 _ < <(run_wrk $BARE none "$DURATION" "$PACE" "$C70"); R70B="$R70B$r
"; P70B="$P70B$p99
"
  read -r r p50 p99 _ < <(run_wrk $LOCAL "$KEY_LOCAL" "$DURATION" "$PACE" "$C70"); R70L="$R70L$r
"; P70L="$P70L$p99
"
done
r70b=$(echo -n "$R70B" | median); p99b=$(echo -n "$P70B" | median)
r70l=$(echo -n "$R70L" | median); p99l=$(echo -n "$P70L" | median)
echo
echo "At ~70 % of the bare route's saturation (target $TARGET70 req/s: $C70 connections pausing $PACE ms per request, calibrated on the bare route; medians of 2 rounds):"
printf "  bare: %s req/s, p99 %s ms; local: %s req/s, p99 %s ms; p99 added: %s ms\n" "$r70b" "$p99b" "$r70l" "$p99l" \
  "$(awk -v a="$p99l" -v b="$p99b" 'BEGIN { printf "%.2f", a-b }')"

# time to the first SSE event, median of SSE_SAMPLES streams each. The streaming path is warmed up
# first (the throughput runs above send no streams; a guard's SSE code would still be cold), and
# the samples alternate between the two gateways so that drift hits both alike.
for _ in 1 2 3; do
  BENCH_KEY=none BENCH_STREAM=1 wrk -t1 -c8 -d10s -s bench/post.lua "http://127.0.0.1:$BARE/v1/chat/completions" >/dev/null
  BENCH_KEY=$KEY_LOCAL BENCH_STREAM=1 wrk -t1 -c8 -d10s -s bench/post.lua "http://127.0.0.1:$LOCAL/v1/chat/completions" >/dev/null
done
first_event() { # port key -> seconds to the first byte of the streamed answer
  curl -s -N -o /dev/null -w "%{time_starttransfer}\n" "http://127.0.0.1:$1/v1/chat/completions" \
    -H "Authorization: Bearer $2" -H "Content-Type: application/json" \
    -d '{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"hi"}]}'
}
SB=""; SL=""
for _ in $(seq 1 "$SSE_SAMPLES"); do
  SB="$SB$(first_event $BARE none)
"; SL="$SL$(first_event $LOCAL "$KEY_LOCAL")
"
done
tb=$(echo -n "$SB" | median | awk '{ printf "%.3f", $1 * 1000 }'); tl=$(echo -n "$SL" | median | awk '{ printf "%.3f", $1 * 1000 }')
echo
echo "Time to first SSE event (median of $SSE_SAMPLES, alternating, after 3 x 10 s of streams each): bare $tb ms, all restrictions (local) $tl ms, added $(awk -v a="$tl" -v b="$tb" 'BEGIN { printf "%.3f", a-b }') ms"
