#!/usr/bin/env bash
# Load test: authenticated /me and /admin against unauthenticated /healthz, for both example
# apps, on loopback only. Prints req/s, p50, p99 and the ratio /me ÷ /healthz per framework.
# Target (issue 7): ratio ≥ 0.90 on both.
#
#   bash benches/load.sh            # DURATION=10 WARMUP=2 THREADS=2 CONNECTIONS=64
#
# It builds the apps in release, starts the fake DingTalk and each app on free loopback ports
# with a fixed SESSION_SECRET, logs in once, runs wrk, and stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
SESSION_SECRET=${SESSION_SECRET:-load-test-session-secret-0123456789abcdef}

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

echo "building (release)…" >&2
cargo build --release --quiet --features "axum actix testing" \
  --example axum_app --example actix_app --example fake_dingtalk
bin=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/examples

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Waits for "listening on http://ADDR" in a log file and prints ADDR.
wait_listening() {
  local log=$1
  for _ in $(seq 1 200); do
    if grep -q '^listening on http://' "$log" 2>/dev/null; then
      sed -n 's|^listening on http://||p' "$log" | head -n 1
      return 0
    fi
    sleep 0.05
  done
  echo "no 'listening on' line in $log:" >&2
  cat "$log" >&2
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

CODES=4 "$bin/fake_dingtalk" >"$work/fake.log" 2>&1 &
pids+=($!)
fake_addr=$(wait_listening "$work/fake.log")
app_key=$(sed -n 's/^app_key //p' "$work/fake.log")
app_secret=$(sed -n 's/^app_secret //p' "$work/fake.log")
mapfile -t codes < <(sed -n 's/^code admin //p' "$work/fake.log")

# Parses wrk --latency output into "req/s p50 p99".
summarize() {
  awk '
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = $2 }
    /^ +99%/ { p99 = $2 }
    END { printf "%s %s %s\n", rps, p50, p99 }'
}

run_wrk() { # url [token]
  local url=$1 token=${2:-}
  local args=(-t"$THREADS" -c"$CONNECTIONS" --latency)
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  wrk "${args[@]}" -d"${WARMUP}s" "$url" >/dev/null
  wrk "${args[@]}" -d"${DURATION}s" "$url" | summarize
}

results=()
i=0
for app in axum_app actix_app; do
  port=$(free_port)
  BIND=127.0.0.1:$port DINGTALK_APP_KEY=$app_key DINGTALK_APP_SECRET=$app_secret \
    DINGTALK_OAPI_URL=http://$fake_addr SESSION_SECRET=$SESSION_SECRET COOKIE_SECURE=0 \
    RUST_LOG=warn "$bin/$app" >"$work/$app.log" 2>&1 &
  pids+=($!)
  addr=$(wait_listening "$work/$app.log")
  base=http://$addr
  token=$(curl -fsS -X POST "$base/auth/dingtalk" -H 'content-type: application/json' \
    -d "{\"code\":\"${codes[$i]}\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  i=$((i + 1))
  curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$base/admin"

  read -r h_rps h_p50 h_p99 < <(run_wrk "$base/healthz")
  read -r m_rps m_p50 m_p99 < <(run_wrk "$base/me" "$token")
  read -r a_rps a_p50 a_p99 < <(run_wrk "$base/admin" "$token")
  ratio=$(python3 -c "print(f'{$m_rps / $h_rps:.2f}')")
  results+=("$(printf '%-10s %-9s %12s %10s %10s' "${app%_app}" /healthz "$h_rps" "$h_p50" "$h_p99")")
  results+=("$(printf '%-10s %-9s %12s %10s %10s' "${app%_app}" /me "$m_rps" "$m_p50" "$m_p99")")
  results+=("$(printf '%-10s %-9s %12s %10s %10s' "${app%_app}" /admin "$a_rps" "$a_p50" "$a_p99")")
  results+=("$(printf '%-10s ratio /me ÷ /healthz = %s' "${app%_app}" "$ratio")")
  kill "${pids[-1]}" 2>/dev/null || true
done

printf '%-10s %-9s %12s %10s %10s\n' framework route req/s p50 p99
printf '%s\n' "${results[@]}"
