#!/usr/bin/env bash
# A/B benchmark: an earlier build (BEFORE_BIN) beside the current one, side by side in one run, each on a
# database of its own seeded alike (`seed-demo --scale $SCALE`). Screens (board, customer card, lookup) and
# an edit of a random open work order's notes at concurrency 16, every request for a record drawn at random;
# statements per request; the signed-in `{ __typename }` as the stack's own ceiling. Runs alternate between
# the two builds, REPEAT times, and the medians are kept. Writes bench/AB.md.
#
#   BEFORE_BIN=/path/to/old/autoshop SCALE=10 bash bench/ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."

: "${BEFORE_BIN:?BEFORE_BIN names the earlier release binary}"
SCALE=${SCALE:-10}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
# The requests to run, and where to write the table.
OPS=${OPS:-board customer_card lookup typename edit}
REPORT=${REPORT:-bench/AB.md}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
OUT=bench/out/ab
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

cargo build --release -q
AFTER_BIN=./target/release/autoshop
export AUTOSHOP_KEYS_DIR="$OUT/keys"
rm -rf "$AUTOSHOP_KEYS_DIR"
"$AFTER_BIN" rotate-key >/dev/null
AUTOSHOP_ENCRYPTION_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export AUTOSHOP_ENCRYPTION_KEY
PASSWORD="bench-owner-$RANDOM-$RANDOM"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT

start() { # side binary port
  local side=$1 bin=$2 port=$3 db="autoshop_ab_$1"
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  local url="$PG/$db?sslmode=disable"
  DATABASE_URL=$url "$bin" migrate >/dev/null
  DATABASE_URL=$url "$bin" seed-demo --scale "$SCALE" >/dev/null
  psql -q "$url" -c "VACUUM ANALYZE"
  echo "$PASSWORD" | DATABASE_URL=$url AUTOSHOP_ENV=production "$bin" create-owner --email bench@autoshop.test >/dev/null
  # Builds from before /metrics had a token serve it openly, and refuse a variable they do not know.
  local metrics=()
  "$bin" --help 2>&1 | grep -q AUTOSHOP_METRICS_TOKEN && metrics=(AUTOSHOP_METRICS_TOKEN=bench)
  # The benchmark sends its own documents (and `{ __typename }`), which production refuses from a browser.
  "$bin" --help 2>&1 | grep -q AUTOSHOP_TRUSTED_DOCUMENTS && metrics+=(AUTOSHOP_TRUSTED_DOCUMENTS=off)
  env DATABASE_URL="$url" AUTOSHOP_ACCESS_TOKEN_TTL_SECS=3600 AUTOSHOP_ENV=production AUTOSHOP_LISTEN="127.0.0.1:$port" \
    AUTOSHOP_RATE_LIMIT_PER_MINUTE=1000000000 AUTOSHOP_RATE_LIMIT_BURST=1000000 RUST_LOG=warn "${metrics[@]}" \
    "$bin" serve >"$OUT/$side.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
  curl -s -XPOST "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' \
    --data-binary "{\"query\":\"mutation(\$i: LoginInput!) { login(input: \$i) { session { accessToken } } }\",\"variables\":{\"i\":{\"email\":\"bench@autoshop.test\",\"password\":\"$PASSWORD\"}}}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["login"]["session"]["accessToken"])' >"$OUT/$side.token"
  # Request bodies for records drawn at random from this side's database.
  python3 - "$url" "$OUT/$side" <<'PY'
import base64, json, random, subprocess, sys
url, out = sys.argv[1:3]
q = lambda sql: subprocess.run(["psql", "-Atq", url, "-c", sql], check=True, capture_output=True, text=True).stdout.split()
gid = lambda t, u: base64.urlsafe_b64encode(f"{t}:{u}".encode()).decode().rstrip("=")
contract = lambda f: open(f"frontend-contract/{f}").read()
random.seed(17)
ops = {
    "board": ("work-order-board.graphql", "WorkOrderBoard", "locationId", "Location",
              "SELECT DISTINCT location_id FROM work_orders WHERE status NOT IN ('closed','cancelled')"),
    "customer_card": ("customer-card.graphql", "CustomerCard", "id", "Customer", "SELECT id FROM customers"),
    "lookup": ("lookup.graphql", "Lookup", "id", "Vehicle", "SELECT id FROM vehicles"),
}
for name, (file, op, var, kind, sql) in ops.items():
    ids = q(sql)
    with open(f"{out}.{name}.bodies", "w") as f:
        for i in random.sample(ids, min(len(ids), 1000)):
            f.write(json.dumps({"query": contract(file), "operationName": op, "variables": {var: gid(kind, i)}}) + "\n")
with open(f"{out}.typename.bodies", "w") as f:
    f.write(json.dumps({"query": "{ __typename }"}) + "\n")
PY
}

start before "$BEFORE_BIN" 18091
start after "$AFTER_BIN" 18092
port() { [[ $1 == before ]] && echo 18091 || echo 18092; }
orders() { # side → its open work orders, "global-id version" at the versions they have now
  psql -Atq "$PG/autoshop_ab_$1?sslmode=disable" -F ' ' -c \
    "SELECT id, version FROM work_orders WHERE status NOT IN ('closed','cancelled','ready') AND deleted_at IS NULL" |
    python3 -c 'import base64, sys
for line in sys.stdin:
    i, v = line.split()
    print(base64.urlsafe_b64encode(f"WorkOrder:{i}".encode()).decode().rstrip("="), v)' >"$OUT/$1.orders"
}
field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }
statements() { # side → the server's statement count
  curl -s -H 'authorization: Bearer bench' "http://127.0.0.1:$(port "$1")/metrics" | awk '/^autoshop_app_db_statements /{print $2}'
}
versions() { psql -Atq "$PG/autoshop_ab_$1?sslmode=disable" -c "SELECT sum(version) FROM work_orders"; }

# Statements per request: 100 requests one at a time, each for a record drawn at random.
STMTS="$OUT/statements.tsv"
: >"$STMTS"
for side in before after; do
  for op in board customer_card lookup typename; do
    before=$(statements "$side")
    shuf -n 100 -r "$OUT/$side.$op.bodies" | while read -r body; do
      curl -s -o /dev/null -XPOST "http://127.0.0.1:$(port "$side")/graphql" -H 'content-type: application/json' \
        -H "authorization: Bearer $(cat "$OUT/$side.token")" --data-binary "$body"
    done
    after=$(statements "$side")
    printf "%s\t%s\t%s\n" "$side" "$op" "$(python3 -c "print(($after - $before) / 100)")" | tee -a "$STMTS"
  done
done

RUNS="$OUT/runs.tsv"
: >"$RUNS"
for rep in $(seq 1 "$REPEAT"); do
  for op in $OPS; do
    for side in before after; do
      export TOKEN; TOKEN=$(cat "$OUT/$side.token")
      url="http://127.0.0.1:$(port "$side")/graphql"
      if [[ $op == edit ]]; then
        orders "$side"
        v0=$(versions "$side")
        r=$(ORDERS_FILE="$OUT/$side.orders" THREADS=2 wrk -t2 -c16 -d"${DURATION}s" -s bench/edit.lua "$url" | grep '^RESULT')
        landed=$(( $(versions "$side") - v0 ))
      else
        r=$(BODIES_FILE="$OUT/$side.$op.bodies" wrk -t2 -c16 -d"${DURATION}s" -s bench/random.lua "$url" | grep '^RESULT')
        landed=""
      fi
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$op" "$side" "$(field rps "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" \
        "$(field requests "$r")" "$landed" | tee -a "$RUNS"
    done
  done
done

{
  echo "## Before and after, side by side (bench/ab.sh)"
  echo
  echo "Measured on $(date -u '+%Y-%m-%d %H:%M UTC'): SCALE=$SCALE, ${DURATION}s per run, concurrency 16, medians of $REPEAT alternating runs;"
  echo "before = \`$BEFORE_BIN\` (${BEFORE_NAME:-an earlier commit}), after = this working tree ($(git rev-parse --short HEAD)); each on a database of its own seeded alike,"
  echo "every request for a record drawn at random ($(wc -l <"$OUT/after.customer_card.bodies") customers, $(wc -l <"$OUT/after.lookup.bodies") vehicles, every branch with open orders)."
  echo "The machine: $(nproc) cores shared by both servers, PostgreSQL and wrk."
  echo
  python3 - "$RUNS" "$STMTS" <<'PY'
import statistics, sys
runs, stmts = sys.argv[1:3]
rows = {}
for line in open(runs):
    op, side, rps, p50, p99, n, landed = (line.rstrip("\n").split("\t") + [""])[:7]
    rows.setdefault((op, side), []).append((float(rps), float(p50), float(p99), int(float(n)), landed))
spr = {}
for line in open(stmts):
    side, op, s = line.split("\t")
    spr[(op, side)] = float(s)
print("| request | before req/s | after req/s | after ÷ before | before p99 ms | after p99 ms | statements per request (before → after) |")
print("|---|---:|---:|---:|---:|---:|---|")
for op in ["board", "customer_card", "lookup", "typename", "edit"]:
    b, a = rows.get((op, "before")), rows.get((op, "after"))
    if not b or not a:
        continue
    med = lambda rs, i: statistics.median(r[i] for r in rs)
    s = f"{spr[(op, 'before')]:.2f} → {spr[(op, 'after')]:.2f}" if (op, "before") in spr else ""
    print(f"| {op} | {med(b, 0):.0f} | {med(a, 0):.0f} | **{med(a, 0) / med(b, 0):.2f}** | {med(b, 2):.2f} | {med(a, 2):.2f} | {s} |")
edits = [(r[3], r[4]) for side in ("before", "after") for r in rows.get(("edit", side), [])]
print()
print("Edits that landed (from the versions in the database) of those sent, per run: "
      + ", ".join(f"{l}/{n}" for n, l in edits) + ".")
PY
} >"$REPORT"
cat "$REPORT"
