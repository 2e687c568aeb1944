#!/usr/bin/env bash
# Benchmark: throughput and latency of the SPA's main screens (board, customer card, lookup) through GraphQL on
# PostgreSQL, at concurrency 1, 16 and 64, beside the raw-SQL floor (one hand-written query per screen through
# pgbench), and their ratio. Writes bench/RESULTS.md.
#
#   bash bench/run.sh                 # scale 3 (~900 customers, ~9000 work orders), 3 runs of 6 s each
#   SCALE=10 DURATION=20 REPEAT=5 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-3}
DURATION=${DURATION:-6}
REPEAT=${REPEAT:-3}
PORT=${PORT:-18090}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
DB=autoshop_bench
OUT=bench/out
mkdir -p "$OUT"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v pgbench >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null; }

echo "building (release)"
cargo build --release -q
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
# TLS on loopback would measure the cipher, not the code: both sides connect in plain text.
export DATABASE_URL="$PG/$DB?sslmode=disable"
./target/release/autoshop migrate >/dev/null
./target/release/autoshop seed-demo --scale "$SCALE"
psql -q "$DATABASE_URL" -c "VACUUM ANALYZE"
psql -q "$DATABASE_URL" -c "SELECT 1" >/dev/null

# Production mode wants its keys given: a signing key and a sealing key of the bench's own.
export AUTOSHOP_KEYS_DIR="$OUT/keys"
rm -rf "$AUTOSHOP_KEYS_DIR"
./target/release/autoshop rotate-key >/dev/null
AUTOSHOP_ENCRYPTION_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export AUTOSHOP_ENCRYPTION_KEY
BENCH_PASSWORD="bench-owner-$RANDOM-$RANDOM"
echo "$BENCH_PASSWORD" | AUTOSHOP_ENV=production ./target/release/autoshop create-owner --email bench@autoshop.test >/dev/null

# The load generator is one client sending far more than a person would: lift the per-client rate limit.
# Tokens live an hour so one sign-in covers the whole run. It sends its own documents (and `{ __typename }`),
# which production refuses from a browser: trusted documents are off.
AUTOSHOP_ACCESS_TOKEN_TTL_SECS=3600 AUTOSHOP_ENV=production AUTOSHOP_LISTEN="127.0.0.1:$PORT" RUST_LOG=warn \
  AUTOSHOP_RATE_LIMIT_PER_MINUTE=1000000000 AUTOSHOP_RATE_LIMIT_BURST=1000000 AUTOSHOP_TRUSTED_DOCUMENTS=off \
  ./target/release/autoshop serve >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done

# Every request carries the owner's access token, as the SPA's would.
TOKEN=$(curl -s -XPOST "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' \
  --data-binary "{\"query\":\"mutation(\$i: LoginInput!) { login(input: \$i) { session { accessToken } } }\",\"variables\":{\"i\":{\"email\":\"bench@autoshop.test\",\"password\":\"$BENCH_PASSWORD\"}}}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["login"]["session"]["accessToken"])')
export TOKEN

q() { psql -Atq "$DATABASE_URL" -c "$1"; }
LOCATION=$(q "SELECT location_id FROM work_orders WHERE status NOT IN ('closed','cancelled') GROUP BY location_id ORDER BY count(*) DESC LIMIT 1")
CUSTOMER=$(q "SELECT customer_id FROM work_orders GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1")
VEHICLE=$(q "SELECT id FROM vehicles ORDER BY id LIMIT 1")

# Request bodies from the contract's own operations, with the ids as the SPA would send them.
python3 - "$LOCATION" "$CUSTOMER" "$VEHICLE" "$OUT" <<'PY'
import base64, json, sys
loc, cust, veh, out = sys.argv[1:5]
gid = lambda t, u: base64.urlsafe_b64encode(f"{t}:{u}".encode()).decode().rstrip("=")
ops = {
    "board": ("work-order-board.graphql", "WorkOrderBoard", {"locationId": gid("Location", loc)}),
    "customer_card": ("customer-card.graphql", "CustomerCard", {"id": gid("Customer", cust)}),
    "lookup": ("lookup.graphql", "Lookup", {"id": gid("Vehicle", veh)}),
}
for name, (file, op, variables) in ops.items():
    query = open(f"frontend-contract/{file}").read()
    json.dump({"query": query, "operationName": op, "variables": variables}, open(f"{out}/{name}.json", "w"))
PY
for op in board customer_card lookup; do
  sed -e "s/@LOCATION@/$LOCATION/g" -e "s/@CUSTOMER@/$CUSTOMER/g" -e "s/@VEHICLE@/$VEHICLE/g" "bench/sql/$op.sql" >"$OUT/$op.sql"
  body=$(curl -s -XPOST "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" --data-binary "@$OUT/$op.json")
  if [[ "$body" == *'"errors"'* || "$body" != *'"data"'* ]]; then echo "$op failed: ${body:0:400}"; exit 1; fi
  rows=$(psql -Atq "$DATABASE_URL" -f "$OUT/$op.sql" | wc -l)
  echo "$op: GraphQL answers $(echo -n "$body" | wc -c) bytes; SQL floor returns $rows row(s)"
done

percentiles() { # latency log of pgbench (-l): 3rd column is the latency in microseconds
  cat "$@" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f", a[int(NR*0.50)]/1000, a[int(NR*0.99)]/1000}'
}
field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }

# This machine's speed drifts from minute to minute (other tenants' load; `steal` in /proc/stat): each
# GraphQL run is paired with a floor run right after it, REPEAT times, and the median of each side is kept.
RUNS="$OUT/runs.tsv"
: >"$RUNS"
for op in board customer_card lookup; do
  for c in 1 16 64; do
    threads=$(( c == 1 ? 1 : 2 ))
    for rep in $(seq 1 "$REPEAT"); do
      g=$(BODY_FILE="$OUT/$op.json" wrk -t"$threads" -c"$c" -d"${DURATION}s" -s bench/post.lua "http://127.0.0.1:$PORT/graphql" | grep '^RESULT')
      rm -f "$OUT"/pgbench_log.*
      s=$(cd "$OUT" && pgbench -n -M prepared -c "$c" -j "$threads" -T "$DURATION" -l --log-prefix=pgbench_log -f "$op.sql" "$DATABASE_URL" 2>/dev/null | grep -E '^tps' | head -1)
      s_tps=$(sed -E 's/tps = ([0-9.]+).*/\1/' <<<"$s")
      read -r s_p50 s_p99 <<<"$(percentiles "$OUT"/pgbench_log.*)"
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$op" "$c" "$(field rps "$g")" "$(field p50_ms "$g")" "$(field p99_ms "$g")" \
        "$s_tps" "$s_p50" "$s_p99" "$(field non2xx "$g")" | tee -a "$RUNS"
    done
  done
done

# What the stack costs doing (nearly) nothing, beside the lookup's floor: `GET /healthz` (no GraphQL, no
# database), `GET /readyz` (one `SELECT 1` through the pool, no GraphQL) and the smallest signed-in GraphQL
# request, `{ __typename }` (no database). Their ratios bound what a screen served through this stack can reach
# on this machine.
CEILINGS="$OUT/ceilings.tsv"
: >"$CEILINGS"
printf '{"query":"{ __typename }"}' >"$OUT/typename.json"
for rep in $(seq 1 "$REPEAT"); do
  h=$(wrk -t2 -c16 -d"${DURATION}s" -s bench/get.lua "http://127.0.0.1:$PORT/healthz" | grep '^RESULT')
  r=$(wrk -t2 -c16 -d"${DURATION}s" -s bench/get.lua "http://127.0.0.1:$PORT/readyz" | grep '^RESULT')
  t=$(BODY_FILE="$OUT/typename.json" wrk -t2 -c16 -d"${DURATION}s" -s bench/post.lua "http://127.0.0.1:$PORT/graphql" | grep '^RESULT')
  f=$(pgbench -n -M prepared -c 16 -j 2 -T "$DURATION" -f "$OUT/lookup.sql" "$DATABASE_URL" 2>/dev/null | grep -E '^tps' | head -1)
  printf "%s\t%s\t%s\t%s\n" "$(field rps "$h")" "$(field rps "$r")" "$(field rps "$t")" "$(sed -E 's/tps = ([0-9.]+).*/\1/' <<<"$f")" | tee -a "$CEILINGS"
done

{
  echo "# Benchmark results"
  echo
  echo "Measured by \`bash bench/run.sh\` (SCALE=$SCALE, ${DURATION}s per run, each figure the median of $REPEAT runs) on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB;"
  echo "server (release build; default settings but for the rate limit and token lifetime, so a pool of 10), PostgreSQL $(psql -Atq "$DATABASE_URL" -c 'SHOW server_version' | cut -d' ' -f1), wrk and pgbench all share those cores."
  echo "Data: $(q "SELECT count(*) FROM customers") customers, $(q "SELECT count(*) FROM vehicles") vehicles, $(q "SELECT count(*) FROM work_orders") work orders, $(q "SELECT count(*) FROM invoices") invoices."
  echo
  echo "GraphQL: the contract's operation over HTTP (wrk). Floor: one hand-written SQL query per screen (bench/sql/, pgbench, prepared)."
  echo "Ratio = GraphQL requests/s ÷ floor transactions/s (medians). Target at concurrency 16: ≥ 0.45."
  echo
  python3 - "$RUNS" "$CEILINGS" <<'PY'
import statistics, sys
runs, ceilings = sys.argv[1:3]
groups = {}
for line in open(runs):
    op, c, *v = line.rstrip("\n").split("\t")
    groups.setdefault((op, int(c)), []).append([float(x) for x in v])

def median_run(rows, col):
    """The run whose `col` is the median, so its latencies go with its throughput."""
    return sorted(rows, key=lambda r: r[col])[len(rows) // 2]

print("| screen | concurrency | GraphQL req/s | p50 ms | p99 ms | SQL floor tps | p50 ms | p99 ms | ratio | runs' ratios |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for (op, c), rows in groups.items():
    g, f = median_run(rows, 0), median_run(rows, 3)
    each = ", ".join(f"{r[0] / r[3]:.2f}" for r in rows)
    print(f"| {op} | {c} | {g[0]:.0f} | {g[1]:.2f} | {g[2]:.2f} | {f[3]:.0f} | {f[4]:.2f} | {f[5]:.2f} | "
          f"**{g[0] / f[3]:.2f}** | {each} |")
    if any(r[6] for r in rows):
        print(f"| {op} | {c} | non-2xx answers: {sum(r[6] for r in rows):.0f} | | | | | | | |")
rows = [[float(x) for x in l.split("\t")] for l in open(ceilings)]
h, r, t, f = (statistics.median(row[i] for row in rows) for i in range(4))
print()
print("The stack doing nothing, at concurrency 16, beside the lookup's floor (medians):")
print()
print("| request | req/s | ÷ lookup floor |")
print("|---|---:|---:|")
print(f"| `GET /healthz` (HTTP only) | {h:.0f} | {h / f:.2f} |")
print(f"| `GET /readyz` (HTTP and one `SELECT 1` through the pool; no GraphQL) | {r:.0f} | {r / f:.2f} |")
print(f"| `{{ __typename }}` signed in (HTTP, auth, GraphQL; no database) | {t:.0f} | {t / f:.2f} |")
print(f"| lookup floor (pgbench) | {f:.0f} | 1.00 |")
PY
  echo
  echo "What the figures mean, and what was measured on the way to them: bench/README.md."
} >bench/RESULTS.md
echo
cat bench/RESULTS.md
