#!/usr/bin/env bash
# A/B of two builds of Usage Guard side by side in one run, for a change whose effect is a few per cent:
#   bench/ab.sh OLD.jar NEW.jar          (needs: wrk, curl; the stub backend from target/, so run ./mvnw package first)
# Starts the stub backend and both jars (local state, bench/guard.yml, the same JVM flags), warms both
# up, then alternates 10 s wrk runs between them and prints, per round, requests/s and the gateway's CPU
# time per request in µs (user + system, from /proc/<pid>/stat: less noisy than requests/s, because it
# does not depend on how the two cores are shared with wrk and the stub). Run it twice with the jars
# swapped: the port order alone can be worth a few per cent here.
#   STORE=redis for Redis state; WARM (rounds of 2 x 10 s, default 8), ROUNDS (default 5);
#   A_ARGS / B_ARGS: extra arguments for the first / second gateway (one jar with two settings, say).
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
[ $# = 2 ] || { echo "usage: bench/ab.sh OLD.jar NEW.jar" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
[ -f target/bench-classpath.txt ] || ./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/bench-classpath.txt >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench-classpath.txt)"
STUB=18500; A=18520; B=18540
JVM_FLAGS=${JVM_FLAGS:--Xms512m -Xmx512m -XX:+UseG1GC}
LOGS=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
java -cp "$CP" io.usageguard.demo.StubInferenceServer $STUB >"$LOGS/stub.log" 2>&1 & PIDS+=($!)
guard() { # jar port extra-args
  # shellcheck disable=SC2086
  BENCH_STUB_PORT=$STUB java $JVM_FLAGS -jar "$1" $3 --spring.config.additional-location=file:bench/guard.yml \
    --server.port=$2 --management.server.port=$(($2+1)) --usage-guard.state.store="${STORE:-local}" \
    --usage-guard.state.redis.key-prefix="ugab:$$:$2:" \
    --usage-guard.registry.url="jdbc:h2:mem:ab$2;DB_CLOSE_DELAY=-1;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE" \
    --logging.level.root=WARN >"$LOGS/guard-$2.log" 2>&1 & PIDS+=($!)
}
guard "$1" $A "${A_ARGS:-}"; PA=$!; guard "$2" $B "${B_ARGS:-}"; PB=$!
await_health $((A+1)) $((B+1))
KA=$(issue_key $((A+1))); KB=$(issue_key $((B+1)))
rps() { BENCH_KEY=$2 BENCH_DELAY_MS=0 wrk -t1 -c32 -d"$3" -s bench/post.lua "http://127.0.0.1:$1/v1/chat/completions" \
  | awk '/Requests\/sec/ {print $2}'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# measure port key pid: "requests/s µs-of-gateway-CPU-per-request" for one 10 s run
measure() {
  local t0 t1 r
  t0=$(ticks "$3"); r=$(rps "$1" "$2" 10s); t1=$(ticks "$3")
  awk -v r="$r" -v t=$((t1-t0)) -v hz="$HZ" 'BEGIN { printf "%s %.0f", r, (r > 0 ? t*1e6/hz/(r*10) : 0) }'
}
for _ in $(seq 1 "${WARM:-8}"); do rps $A "$KA" 10s >/dev/null; rps $B "$KB" 10s >/dev/null; done
echo "round  $(basename "$1") (port $A): requests/s, gateway µs/request  $(basename "$2") (port $B): requests/s, gateway µs/request"
for r in $(seq 1 "${ROUNDS:-5}"); do echo "$r  $(measure $A "$KA" $PA)  $(measure $B "$KB" $PB)"; done
