# Shared by bench/run.sh and bench/ab.sh (sourced, not run).

# await_health port...: waits up to 2 minutes for each server's /actuator/health; fails naming the first that did not start
await_health() {
  local port
  for port in "$@"; do
    for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/actuator/health" >/dev/null 2>&1 && break; sleep 1; done
    curl -sf "http://127.0.0.1:$port/actuator/health" >/dev/null || { echo "a server on $port did not start; logs in $LOGS" >&2; exit 1; }
  done
}

# issue_key management-port: creates the account "bench" (tier L1, verified) and prints a new key of it
issue_key() {
  curl -sf -X PUT "http://127.0.0.1:$1/admin/accounts/bench" -H "Authorization: Bearer bench-admin-token" \
    -H "Content-Type: application/json" -d '{"tier":"L1","verification":"INDIVIDUAL","minor":false}' >/dev/null
  curl -sf -X POST "http://127.0.0.1:$1/admin/accounts/bench/keys" -H "Authorization: Bearer bench-admin-token" \
    -H "Content-Type: application/json" -d '{"name":"bench"}' | sed -E 's/.*"key":"([^"]+)".*/\1/'
}
