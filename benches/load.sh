#!/usr/bin/env bash
# Load test of the example apps against bare framework servers, on loopback only.
#
#   bash benches/load.sh
#
# Builds in release and starts the fake DingTalk, `axum_app`, `actix_app` and the bench-only
# baselines `bare_axum` and `bare_actix` (the same `/healthz` and a `/me` with the same JSON
# body, no login layer, no auth). Each baseline runs on its app's server: actix-web's
# `HttpServer` for both actix servers, and for both axum servers `axum_app`'s loop (hyper's
# HTTP/1 server with a header-read timeout and the peer address on each request, which plain
# `axum::serve` lacks), so that the ratios are the login layer's cost. A third axum server,
# `bare_axum` on plain `axum::serve`, is measured too and reported beside them: what that
# safer loop costs. Then, in ROUNDS interleaved rounds (app, bare, app, bare; the
# order flips each round), it runs wrk (THREADS threads × CONNECTIONS connections, DURATION s
# measured after a WARMUP s warm-up) on:
#   - /healthz of the app and of the bare server;
#   - /me with one session (warm verified-session cache) and the bare /me;
#   - the cold path: /me with COLD_TOKENS distinct valid sessions in rotation (more than the
#     verified-session cache holds, 10,000 by default, so nearly every request misses it),
#     against the bare /me driven by the same wrk script;
#   - /me of the app built with the cargo feature METRICS_FEATURE (default `metrics`) and a
#     METRICS_BIND listener, when that feature exists (else the row is skipped with a note).
# Per run it reads the server's CPU time (utime + stime of /proc/PID/stat) and prints CPU µs
# per request. Then it starts each app afresh and reports its resident memory (VmRSS) before
# and after verifying MEM_SESSIONS distinct sessions.
#
# Targets: /me ÷ bare /me ≥ 0.90, /healthz ÷ bare /healthz ≥ 0.95, cold ÷ bare /me
# ≥ 0.60, memory growth ≤ 64 MiB; /me with metrics ÷ /me without ≥ 0.97.
#
# Knobs (environment): ROUNDS=5 DURATION=5 WARMUP=2 THREADS=2 CONNECTIONS=64 COLD_TOKENS=60000
# MEM_SESSIONS=100000 FRAMEWORKS="axum actix" METRICS_FEATURE=metrics (empty: skip that row).
# It stops every process it started, also on Ctrl-C or an error.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
COLD_TOKENS=${COLD_TOKENS:-60000}
MEM_SESSIONS=${MEM_SESSIONS:-100000}
FRAMEWORKS=${FRAMEWORKS:-axum actix}
METRICS_FEATURE=${METRICS_FEATURE-metrics}
SESSION_SECRET=${SESSION_SECRET:-load-test-session-secret-0123456789abcdef}
FEATURES="axum actix testing"

need() { # command [package]
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "installing ${2:-$1}" >&2
  local sudo=
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${2:-$1}" >/dev/null
}
need wrk
need curl

target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
work=$(mktemp -d)
bin=$work/bin
mkdir -p "$bin"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building (release)…" >&2
examples=(axum_app actix_app fake_dingtalk bare_axum bare_actix mint_sessions)
cargo build --release --quiet --features "$FEATURES" "${examples[@]/#/--example=}"
for e in "${examples[@]}"; do cp "$target/release/examples/$e" "$bin/"; done

metrics_note=
if [ -z "$METRICS_FEATURE" ]; then
  metrics_note="skipped (METRICS_FEATURE is empty)"
elif ! sed -n '/^\[features\]/,/^\[/p' Cargo.toml | grep -q "^$METRICS_FEATURE *="; then
  metrics_note="skipped: this branch has no cargo feature '$METRICS_FEATURE'"
else
  echo "building the apps with --features $METRICS_FEATURE (release)…" >&2
  cargo build --release --quiet --features "$FEATURES $METRICS_FEATURE" \
    --example axum_app --example actix_app
  cp "$target/release/examples/axum_app" "$bin/axum_app_metrics"
  cp "$target/release/examples/actix_app" "$bin/actix_app_metrics"
fi

# Waits for "listening on http://ADDR" in a log file and prints ADDR.
wait_listening() {
  local log=$1
  for _ in $(seq 1 400); do
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

free_port() { # a free loopback port, for METRICS_BIND (the apps print only their main address)
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

CODES=8 "$bin/fake_dingtalk" >"$work/fake.log" 2>&1 &
pids+=($!)
fake_addr=$(wait_listening "$work/fake.log")
app_key=$(sed -n 's/^app_key //p' "$work/fake.log")
app_secret=$(sed -n 's/^app_secret //p' "$work/fake.log")
mapfile -t codes < <(sed -n 's/^code admin //p' "$work/fake.log")
code_i=0

declare -A pid_of base_of

start() { # name binary [VAR=value...]: starts a server, records its pid and base URL
  local name=$1 binary=$2
  shift 2
  env BIND=127.0.0.1:0 DINGTALK_APP_KEY="$app_key" DINGTALK_APP_SECRET="$app_secret" \
    DINGTALK_OAPI_URL="http://$fake_addr" SESSION_SECRET="$SESSION_SECRET" COOKIE_SECURE=0 \
    RUST_LOG=warn "$@" "$bin/$binary" >"$work/$name.log" 2>&1 &
  pids+=($!)
  pid_of[$name]=$!
  base_of[$name]=http://$(wait_listening "$work/$name.log")
}

stop() { # name
  kill "${pid_of[$1]}" 2>/dev/null || true
  wait "${pid_of[$1]}" 2>/dev/null || true
}

login() { # var base: one real login through the app and the fake; sets var to the session token
  local body
  body=$(curl -fsS -X POST "$2/auth/dingtalk" -H 'content-type: application/json' \
    -d "{\"code\":\"${codes[$code_i]}\"}")
  code_i=$((code_i + 1))
  printf -v "$1" '%s' "$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' <<<"$body")"
  [ -n "${!1}" ] || { echo "no token in the login answer of $2: $body" >&2; exit 1; }
}

cpu_ticks() { # pid: utime + stime, in clock ticks
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

rss_kib() { # pid
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

hz=$(getconf CLK_TCK)

# One measured run: wrk against a server. Prints "req/s p50 p99 cpu_us_per_request".
# Every answer must be 2xx: a 401 is not a measurement.
measure() { # name path [wrk args...]
  local name=$1 path=$2
  shift 2
  local url=${base_of[$name]}$path args=(-t"$THREADS" -c"$CONNECTIONS" --latency "$@")
  WRK_THREADS=$THREADS wrk "${args[@]}" -d"${WARMUP}s" "$url" >/dev/null
  local before after out
  before=$(cpu_ticks "${pid_of[$name]}")
  out=$(WRK_THREADS=$THREADS wrk "${args[@]}" -d"${DURATION}s" "$url")
  after=$(cpu_ticks "${pid_of[$name]}")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "$name $path: some answers were not 2xx:" >&2
    echo "$out" >&2
    exit 1
  fi
  awk -v cpu=$((after - before)) -v hz="$hz" '
    function us(v) {
      if (v ~ /us$/) return v + 0
      if (v ~ /ms$/) return v * 1000
      if (v ~ /s$/) return v * 1000000
      return v
    }
    / requests in / { n = $1 }
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = us($2) }
    /^ +99%/ { p99 = us($2) }
    END { printf "%.0f %.0f %.0f %.2f\n", rps, p50, p99, cpu / hz * 1e6 / n }' <<<"$out"
}

for f in $FRAMEWORKS; do
  start "$f" "${f}_app"
  start "bare_$f" "bare_$f"
  [ "$f" = axum ] && start plain_axum bare_axum SERVE=axum
  if [ -z "$metrics_note" ]; then
    start "${f}_metrics" "${f}_app_metrics" METRICS_BIND="127.0.0.1:$(free_port)"
  fi
done
declare -A token_of
for f in $FRAMEWORKS; do
  login token "${base_of[$f]}"
  token_of[$f]=$token
  if [ -z "$metrics_note" ]; then
    login token "${base_of[${f}_metrics]}"
    token_of[${f}_metrics]=$token
  fi
done
echo "minting $COLD_TOKENS sessions…" >&2
SESSION_SECRET=$SESSION_SECRET "$bin/mint_sessions" "$COLD_TOKENS" >"$work/cold.tokens"
export TOKENS_FILE=$work/cold.tokens
lua=(-s benches/sessions.lua)

# results[framework/case/server] = the per-round lines "req/s p50 p99 cpu"
declare -A results
record() { # key line
  results[$1]+="$2"$'\n'
}

run_pair() { # round framework case: the app and its bare baseline, in the round's order
  local r=$1 f=$2 c=$3 order
  if [ $((r % 2)) -eq 1 ]; then order="app bare"; else order="bare app"; fi
  for s in $order; do
    local name=$f auth=() line
    [ "$s" = bare ] && name=bare_$f
    # The bare servers ignore the header; it is sent all the same, for the same request size.
    auth=(-H "Authorization: Bearer ${token_of[$f]}")
    case $c in
      healthz) line=$(measure "$name" /healthz) ;;
      me) line=$(measure "$name" /me "${auth[@]}") ;;
      cold) line=$(measure "$name" /me "${lua[@]}") ;;
    esac
    record "$f/$c/$s" "$line"
  done
}

for r in $(seq 1 "$ROUNDS"); do
  for f in $FRAMEWORKS; do
    echo "round $r/$ROUNDS: $f" >&2
    for c in healthz me cold; do run_pair "$r" "$f" "$c"; done
    if [ "$f" = axum ]; then
      # For the record: the bare routes on plain `axum::serve`.
      record axum/healthz/plain "$(measure plain_axum /healthz)"
      record axum/me/plain "$(measure plain_axum /me -H "Authorization: Bearer ${token_of[axum]}")"
    fi
    if [ -z "$metrics_note" ]; then
      # Paired with a run of the same app without the feature, right after.
      line=$(measure "${f}_metrics" /me -H "Authorization: Bearer ${token_of[${f}_metrics]}")
      record "$f/metrics/app" "$line"
      line=$(measure "$f" /me -H "Authorization: Bearer ${token_of[$f]}")
      record "$f/metrics/bare" "$line"
    fi
  done
done

# The report: medians over the rounds, and the ratio of each round's pair (median).
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { # key column: the median of that column over the rounds
  printf '%s' "${results[$1]}" | awk -v c="$2" 'NF { print $c }' | median
}
ratio() { # key_a key_b: median over rounds of (req/s a ÷ req/s b)
  paste <(printf '%s' "${results[$1]}" | awk 'NF { print $1 }') \
    <(printf '%s' "${results[$2]}" | awk 'NF { print $1 }') |
    awk '{ printf "%.3f\n", $1 / $2 }' | median
}
check() { # value target
  awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 >= t + 0) ? "met" : "NOT met" }'
}

# Memory: a fresh app, warmed on /healthz and one session, then MEM_SESSIONS distinct sessions
# verified about once each.
echo "minting $MEM_SESSIONS sessions…" >&2
SESSION_SECRET=$SESSION_SECRET "$bin/mint_sessions" "$MEM_SESSIONS" >"$work/mem.tokens"
declare -A mem
for f in $FRAMEWORKS; do
  stop "$f"
  start "$f" "${f}_app"
  # A minted session, not a login: the fake's codes live five minutes, and the rounds take
  # longer than that.
  token=$(head -n 1 "$work/cold.tokens")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "${base_of[$f]}/healthz" >/dev/null
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -H "Authorization: Bearer $token" \
    "${base_of[$f]}/me" >/dev/null
  before=$(rss_kib "${pid_of[$f]}")
  # wrk runs for its whole duration even when its threads stop early: long enough for every
  # session at half the cold path's measured rate.
  secs=$(awk -v n="$MEM_SESSIONS" -v r="$(col "$f/cold/app" 1)" 'BEGIN { printf "%d", 2 * n / r + 2 }')
  out=$(ONCE=1 TOKENS_FILE=$work/mem.tokens WRK_THREADS=$THREADS \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" "${lua[@]}" "${base_of[$f]}/me")
  after=$(rss_kib "${pid_of[$f]}")
  n=$(awk '/ requests in / { print $1 }' <<<"$out")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "$f memory run: some answers were not 2xx:" >&2
    echo "$out" >&2
    exit 1
  fi
  mem[$f]="$before $after $n"
done

echo
echo "wrk ${THREADS} threads × ${CONNECTIONS} connections, ${DURATION} s after ${WARMUP} s warm-up," \
  "${ROUNDS} interleaved rounds, medians; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| framework | server | route | req/s | p50 µs | p99 µs | CPU µs/req |"
echo "|---|---|---|---:|---:|---:|---:|"
row() { # framework server route key
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" \
    "$(col "$4" 1)" "$(col "$4" 2)" "$(col "$4" 3)" "$(col "$4" 4)"
}
for f in $FRAMEWORKS; do
  row "$f" "${f}_app" /healthz "$f/healthz/app"
  row "$f" "bare_$f" /healthz "$f/healthz/bare"
  row "$f" "${f}_app" "/me (one session)" "$f/me/app"
  row "$f" "bare_$f" /me "$f/me/bare"
  if [ "$f" = axum ]; then
    row "$f" "bare_axum on plain axum::serve" /healthz axum/healthz/plain
    row "$f" "bare_axum on plain axum::serve" /me axum/me/plain
  fi
  row "$f" "${f}_app" "/me cold ($COLD_TOKENS sessions)" "$f/cold/app"
  row "$f" "bare_$f" "/me (same wrk script)" "$f/cold/bare"
  if [ -z "$metrics_note" ]; then
    row "$f" "${f}_app --features $METRICS_FEATURE" "/me (one session)" "$f/metrics/app"
  fi
done
echo
echo "| framework | ratio | value | target |"
echo "|---|---|---:|---|"
for f in $FRAMEWORKS; do
  v=$(ratio "$f/me/app" "$f/me/bare")
  echo "| $f | /me ÷ bare /me | $v | ≥ 0.90 $(check "$v" 0.90) |"
  v=$(ratio "$f/healthz/app" "$f/healthz/bare")
  echo "| $f | /healthz ÷ bare /healthz | $v | ≥ 0.95 $(check "$v" 0.95) |"
  if [ "$f" = axum ]; then
    v=$(ratio axum/me/app axum/me/plain)
    echo "| axum | /me ÷ bare /me on plain axum::serve (the header-read timeout and peer address included) | $v | |"
    v=$(ratio axum/healthz/app axum/healthz/plain)
    echo "| axum | /healthz ÷ bare /healthz on plain axum::serve (the same) | $v | |"
  fi
  v=$(ratio "$f/cold/app" "$f/cold/bare")
  echo "| $f | cold /me ÷ bare /me (same wrk script) | $v | ≥ 0.60 $(check "$v" 0.60) |"
  v=$(ratio "$f/cold/app" "$f/me/bare")
  echo "| $f | cold /me ÷ bare /me (plain wrk) | $v | |"
  if [ -z "$metrics_note" ]; then
    v=$(ratio "$f/metrics/app" "$f/metrics/bare")
    echo "| $f | /me with $METRICS_FEATURE ÷ /me without | $v | ≥ 0.97 $(check "$v" 0.97) |"
  else
    echo "| $f | /me with metrics ÷ without | — | $metrics_note |"
  fi
  read -r before after n <<<"${mem[$f]}"
  growth=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.1f", (a - b) / 1024 }')
  echo "| $f | RSS growth over $n requests, $MEM_SESSIONS distinct sessions (MiB; $((before / 1024)) → $((after / 1024))) | $growth | ≤ 64 $(awk -v g="$growth" 'BEGIN { print (g <= 64) ? "met" : "NOT met" }') |"
done
