#!/usr/bin/env bash
# Where the two cores go: CPU time per request of each process, per configuration.
#   bench/cpu.sh                     (needs: wrk, curl, redis-server on 127.0.0.1:6379; run ./mvnw package first)
# Starts the stub backend, the bare route and Usage Guard in local and in redis state (as bench/run.sh
# does), warms them up in turn, then drives each alone with wrk for 20 s and prints, per request, the
# CPU time (user + system, from /proc/<pid>/stat) of the gateway, the stub backend, redis-server and
# wrk, and the EVALSHA calls per request. On a saturated machine, requests/s is about the cores
# divided by the sum of these, so the difference between two rows is what a configuration costs.
#   WARM (rounds of 3 x 10 s, default 8)
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
[ -f target/bench-classpath.txt ] || ./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/bench-classpath.txt >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench-classpath.txt)"
JAR=$(ls target/usage-guard-*.jar | grep -v original | head -1)
STUB=18500; BARE=18510; LOCAL=18520; REDIS=18530
JVM_FLAGS=${JVM_FLAGS:--Xms512m -Xmx512m -XX:+UseG1GC}
LOGS=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
java -cp "$CP" io.usageguard.demo.StubInferenceServer $STUB >"$LOGS/stub.log" 2>&1 & STUBPID=$!; PIDS+=($!)
# shellcheck disable=SC2086
java $JVM_FLAGS -cp "$CP" usageguardbench.BareGatewayApplication --server.port=$BARE \
  --management.server.port=$BARE --bench.backend=http://127.0.0.1:$STUB --logging.level.root=WARN \
  --spring.cloud.gateway.server.webflux.route-filter-cache-enabled=true >"$LOGS/bare.log" 2>&1 & BAREPID=$!; PIDS+=($!)
guard() { # port store
  # shellcheck disable=SC2086
  BENCH_STUB_PORT=$STUB java $JVM_FLAGS -jar "$JAR" --spring.config.additional-location=file:bench/guard.yml \
    --server.port=$1 --management.server.port=$(($1+1)) --usage-guard.state.store=$2 \
    --usage-guard.state.redis.key-prefix="ugcpu:$$:$2:" \
    --usage-guard.registry.url="jdbc:h2:mem:cpu$2;DB_CLOSE_DELAY=-1;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE" \
    --logging.level.root=WARN >"$LOGS/guard-$2.log" 2>&1 &
}
guard $LOCAL local; LOCALPID=$!; PIDS+=($!)
guard $REDIS redis; REDISGPID=$!; PIDS+=($!)
await_health $BARE $((LOCAL+1)) $((REDIS+1))
KL=$(issue_key $((LOCAL+1))); KR=$(issue_key $((REDIS+1)))
RSPID=$(pgrep -f 'redis-server .*:6379' | head -1)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
evalsha() { redis-cli info commandstats | tr -d '\r' | awk -F'[:=,]' '$1=="cmdstat_evalsha" {print $3}'; }
drive() { BENCH_KEY=$2 BENCH_DELAY_MS=0 wrk -t1 -c32 -d"$3" -s bench/post.lua "http://127.0.0.1:$1/v1/chat/completions"; }
for _ in $(seq 1 "${WARM:-8}"); do drive $BARE none 10s >/dev/null; drive $LOCAL "$KL" 10s >/dev/null; drive $REDIS "$KR" 10s >/dev/null; done
HZ=$(getconf CLK_TCK)
echo "CPU time per request, µs ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; each configuration alone, wrk 1 thread, 32 connections, 20 s)"
printf "%-8s %10s %9s %7s %7s %5s %7s %12s\n" config "requests/s" gateway stub redis wrk total "EVALSHA/req"
for cfg in bare:$BARE:none:$BAREPID local:$LOCAL:$KL:$LOCALPID redis:$REDIS:$KR:$REDISGPID; do
  IFS=: read -r name port key gpid <<<"$cfg"
  g0=$(ticks "$gpid"); s0=$(ticks $STUBPID); r0=$(ticks "$RSPID"); e0=$(evalsha)
  out=$( { /usr/bin/time -f "WRKCPU %U %S" bash -c "BENCH_KEY=$key BENCH_DELAY_MS=0 wrk -t1 -c32 -d20s -s bench/post.lua http://127.0.0.1:$port/v1/chat/completions"; } 2>&1 )
  g1=$(ticks "$gpid"); s1=$(ticks $STUBPID); r1=$(ticks "$RSPID"); e1=$(evalsha)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  read -r _ wu ws < <(echo "$out" | grep WRKCPU)
  awk -v n="$name" -v rps="$rps" -v g=$((g1-g0)) -v s=$((s1-s0)) -v r=$((r1-r0)) -v wu="$wu" -v ws="$ws" \
      -v ev=$((${e1:-0}-${e0:-0})) -v hz="$HZ" 'BEGIN {
    q = rps*20; t = 1e6/hz/q; w = (wu+ws)*1e6/q
    printf "%-8s %10.0f %9.0f %7.0f %7.0f %5.0f %7.0f %12.2f\n", n, rps, g*t, s*t, r*t, w, (g+s+r)*t+w, ev/q }'
done
