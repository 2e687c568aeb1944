#!/usr/bin/env bash
# What a shared budget costs: the same release binary twice, side by side in one run, on the embedded default
# (seed-demo --scale $SCALE), one keeping its budgets in Redis (one EVALSHA per request, shared by replicas), the
# other in process (governor). The signed-in `{ __typename }` at concurrency 16 is the stack's own ceiling, so
# the difference is the limiter's whole cost; budgets are set too large to refuse anything, so every request takes
# the full charging path. Runs alternate REPEAT times; medians are kept. Writes bench/RATELIMIT.md.
#
#   SCALE=10 bash bench/ratelimit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-10}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
REDIS=${REDIS:-redis://127.0.0.1:6379}
OUT=bench/out/ratelimit
rm -rf "$OUT" && mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q --bin autoshop
BIN=./target/release/autoshop
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
echo '{"query":"{ __typename }"}' >"$OUT/typename.json"

start() { # side port [extra env...]
  local side=$1 port=$2
  shift 2
  local dir="$OUT/$side"
  mkdir -p "$dir"
  local common=(AUTOSHOP_DATA_DIR="$dir" AUTOSHOP_LISTEN="127.0.0.1:$port" AUTOSHOP_S3_EMBEDDED_LISTEN=127.0.0.1:0
    AUTOSHOP_RATE_LIMIT_PER_MINUTE=4000000000 AUTOSHOP_RATE_LIMIT_BURST=4000000000 RUST_LOG=warn)
  env "${common[@]}" "$@" "$BIN" seed-demo --scale "$SCALE" >"$dir/seed.txt"
  env "${common[@]}" "$@" "$BIN" >"$dir/server.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
  local password
  password=$(awk '/password:/ {print $2}' "$dir/seed.txt")
  curl -fs "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' \
    -d "{\"query\":\"mutation { login(input: {email: \\\"owner@demo.autoshop.test\\\", password: \\\"$password\\\"}) { session { accessToken } } }\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["login"]["session"]["accessToken"])' >"$dir/token"
}

start redis 18090 REDIS_URL="$REDIS" AUTOSHOP_REDIS_PREFIX="bench_rl_$RANDOM:"
start local 18091

for round in $(seq 1 "$REPEAT"); do
  for side in redis local; do
    port=$([ "$side" = redis ] && echo 18090 || echo 18091)
    TOKEN=$(cat "$OUT/$side/token") BODY_FILE="$OUT/typename.json" \
      wrk -t2 -c16 -d"${DURATION}s" -s bench/post.lua "http://127.0.0.1:$port/graphql" |
      grep RESULT | sed "s/^/$side round=$round /" | tee -a "$OUT/results.txt"
  done
done

python3 - "$OUT/results.txt" "$SCALE" "$DURATION" "$REPEAT" <<'PY' >bench/RATELIMIT.md
import re, statistics, sys
path, scale, duration, repeat = sys.argv[1:]
rows = {}
for line in open(path):
    side = line.split()[0]
    kv = dict(re.findall(r"(\w+)=([\d.]+)", line))
    rows.setdefault(side, []).append(kv)
med = lambda side, k: statistics.median(float(r[k]) for r in rows[side])
print("# What a shared budget costs\n")
print(f"`bash bench/ratelimit.sh`: the same release binary twice on the embedded default (`seed-demo --scale {scale}`),")
print(f"signed-in `{{ __typename }}` at concurrency 16 for {duration} s, {repeat} alternating rounds, medians.")
print("Budgets large enough that nothing is refused: every request is charged in full.\n")
print("| budgets kept | req/s | p50 ms | p99 ms | non-2xx |")
print("|---|---|---|---|---|")
for side, label in (("redis", "in Redis (shared by replicas)"), ("local", "in process (governor)")):
    print(f"| {label} | {med(side, 'rps'):.0f} | {med(side, 'p50_ms'):.2f} | {med(side, 'p99_ms'):.2f} | {sum(int(r['non2xx']) for r in rows[side])} |")
print(f"\nIn Redis ÷ in process: {med('redis', 'rps') / med('local', 'rps'):.2f} of the throughput.")
PY
cat bench/RATELIMIT.md
