#!/usr/bin/env bash
# Search benchmark on the embedded default (SQLite and the built-in tantivy index) with `seed-demo --scale $SCALE`:
# `search` through the whole GraphQL path at concurrency 16, each request a query drawn at random from what the
# counter types (a surname with a typo, a name, a VIN's last six characters, a plate with a space, a phone with
# spaces, an order number), beside the signed-in `{ __typename }` and a `node` lookup on the same server; then
# the relay's catch-up rate: changes waiting in the outbox while the server was down, sent when it starts.
# Writes bench/SEARCH.md.
#
#   SCALE=10 bash bench/search.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-10}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
PORT=${PORT:-18091}
CHANGES=${CHANGES:-20000}
OUT=bench/out/search
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }

cargo build --release -q
BIN=./target/release/autoshop
rm -rf "$OUT" && mkdir -p "$OUT"
export AUTOSHOP_DATA_DIR="$OUT/data" AUTOSHOP_LISTEN="127.0.0.1:$PORT" AUTOSHOP_S3_EMBEDDED_LISTEN=127.0.0.1:0
export AUTOSHOP_RATE_LIMIT_PER_MINUTE=1000000000 AUTOSHOP_RATE_LIMIT_BURST=1000000 AUTOSHOP_ACCESS_TOKEN_TTL_SECS=3600
export RUST_LOG=warn
DB="$AUTOSHOP_DATA_DIR/autoshop.db"
PASSWORD="bench-owner-$RANDOM-$RANDOM"

"$BIN" seed-demo --scale "$SCALE" >/dev/null
echo "$PASSWORD" | "$BIN" create-owner --email bench@autoshop.test >/dev/null
start=$(date +%s.%N)
"$BIN" reindex | tail -n 1 >"$OUT/reindex.txt"
reindex_secs=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")

serve() {
  "$BIN" serve >>"$OUT/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
}
serve
trap 'kill $SERVER 2>/dev/null || true' EXIT
TOKEN=$(curl -s -XPOST "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' \
  --data-binary "{\"query\":\"mutation(\$i: LoginInput!) { login(input: \$i) { session { accessToken } } }\",\"variables\":{\"i\":{\"email\":\"bench@autoshop.test\",\"password\":\"$PASSWORD\"}}}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["login"]["session"]["accessToken"])')
export TOKEN

# Request bodies: what the counter types, drawn from the database.
python3 - "$DB" "$OUT" <<'PY'
import base64, json, random, sqlite3, sys, uuid
db, out = sys.argv[1:3]
c = sqlite3.connect(db)
random.seed(19)
rows = lambda sql: [r[0] for r in c.execute(sql)]
names = rows("SELECT name FROM customers ORDER BY random() LIMIT 300")
vins = rows("SELECT vin FROM vehicles WHERE vin IS NOT NULL ORDER BY random() LIMIT 300")
plates = rows("SELECT plate_number FROM vehicles WHERE plate_number IS NOT NULL ORDER BY random() LIMIT 300")
phones = [json.loads(p)[0] for p in rows("SELECT phones FROM customers ORDER BY random() LIMIT 300")]
numbers = rows("SELECT number FROM work_orders ORDER BY random() LIMIT 300")
def typo(w):
    i = random.randrange(1, len(w) - 1)
    return w[:i] + w[i + 1] + w[i] + w[i + 2:] if len(w) > 3 else w
texts = (
    [typo(n.split()[-1]) for n in names[:100]] + names[100:200]
    + [v[-6:] for v in vins[:100]]
    + [p[:3] + " " + p[3:] for p in plates[:100]]
    + [" ".join([p[2:5], p[5:8], p[8:]]) for p in phones[:100]]
    + [n.lower().replace("-", "") for n in numbers[:100]]
)
q = "query($q: String!) { search(query: $q, first: 10) { counts { type count } edges { node { title highlights { start end } record { __typename ... on Customer { id name } ... on Vehicle { id plateNumber } ... on WorkOrder { id number status } ... on Invoice { id number } } } } } }"
with open(f"{out}/search.bodies", "w") as f:
    for t in texts:
        f.write(json.dumps({"query": q, "variables": {"q": t}}) + "\n")
gid = lambda t, u: base64.urlsafe_b64encode(f"{t}:{uuid.UUID(bytes=u)}".encode()).decode().rstrip("=")
with open(f"{out}/lookup.bodies", "w") as f:
    for u in rows("SELECT id FROM vehicles ORDER BY random() LIMIT 500"):
        f.write(json.dumps({"query": "query($id: ID!) { node(id: $id) { ... on Vehicle { id vin plateNumber customer { name } } } }", "variables": {"id": gid("Vehicle", u)}}) + "\n")
with open(f"{out}/typename.bodies", "w") as f:
    f.write(json.dumps({"query": "{ __typename }"}) + "\n")
PY

run() { # name
  BODIES_FILE="$OUT/$1.bodies" wrk -t2 -c16 -d"${DURATION}s" --latency -s bench/random.lua \
    "http://127.0.0.1:$PORT/graphql" | grep '^RESULT'
}
# Every search answers without errors (checked once per body kind, before timing).
BODIES_FILE="$OUT/search.bodies" python3 - "$PORT" <<'PY'
import json, os, sys, urllib.request
port = sys.argv[1]
bodies = open(os.environ["BODIES_FILE"]).read().splitlines()
found = 0
for b in bodies[::20]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=b.encode(), headers={"content-type": "application/json", "authorization": "Bearer " + os.environ["TOKEN"]})
    r = json.load(urllib.request.urlopen(req))
    assert "errors" not in r, r
    found += bool(r["data"]["search"]["edges"])
print(f"sample: {found}/{len(bodies[::20])} searches found something")
PY
for i in $(seq 1 "$REPEAT"); do
  for op in search lookup typename; do
    echo "$op $(run "$op")" | tee -a "$OUT/runs.txt"
  done
done

# Catch-up: the server stops, changes pile up in the outbox (as writes made while the engine was down would),
# the server starts and the relay sends them.
kill $SERVER; wait $SERVER 2>/dev/null || true
python3 - "$DB" "$CHANGES" <<'PY'
import sqlite3, sys, uuid, datetime
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
ids = [r[0] for r in c.execute(f"SELECT id FROM work_orders ORDER BY random() LIMIT {n}")]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
c.executemany("INSERT INTO outbox (id, created_at, updated_at, topic, aggregate_type, aggregate_id, payload, available_at, attempts) VALUES (?, ?, ?, 'search', 'work_order', ?, '{}', ?, 0)",
    [(uuid.uuid4().bytes, now, now, i, now) for i in ids])
c.commit()
print(f"queued {len(ids)} changes")
PY
queued=$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE topic = 'search' AND processed_at IS NULL")
start=$(date +%s.%N)
serve
while [ "$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE topic = 'search' AND processed_at IS NULL")" != 0 ]; do sleep 0.2; done
catchup=$(python3 -c "import time; d = time.time() - $start; print(f'{d:.1f} s, {$queued / d:.0f} changes/s')")

python3 - "$OUT" "$SCALE" "$DURATION" "$REPEAT" "$reindex_secs" "$(cat "$OUT/reindex.txt")" "$queued" "$catchup" <<'PY'
import re, statistics, sys, datetime
out, scale, duration, repeat, reindex_secs, reindexed, queued, catchup = sys.argv[1:9]
runs = {}
for line in open(f"{out}/runs.txt"):
    op, rest = line.split(" ", 1)
    m = dict(re.findall(r"(\w+)=([\d.]+)", rest))
    runs.setdefault(op, []).append(m)
med = lambda op, k: statistics.median(float(r[k]) for r in runs[op])
with open("bench/SEARCH.md", "w") as f:
    f.write(f"# Search on the embedded default (bench/search.sh)\n\nMeasured on {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC: "
            f"`seed-demo --scale {scale}` on SQLite with the built-in tantivy index, {duration}s per run, concurrency 16, "
            f"medians of {repeat} runs, every request drawn at random (surnames with a typo, names, VIN tails, plates with a "
            f"space, phones with spaces, order numbers). The machine: 2 cores shared by the server and wrk.\n\n")
    f.write("| request | req/s | p50 ms | p95 ms | p99 ms | non-2xx |\n|---|---:|---:|---:|---:|---:|\n")
    for op in ["search", "lookup", "typename"]:
        f.write(f"| {op} | {med(op, 'rps'):.0f} | {med(op, 'p50_ms'):.2f} | {med(op, 'p95_ms'):.2f} | {med(op, 'p99_ms'):.2f} | "
                f"{sum(int(float(r['non2xx'])) for r in runs[op])} |\n")
    f.write(f"\nTarget: search p95 ≤ 50 ms. `autoshop reindex` of the whole shop: {reindexed.strip()} in {reindex_secs} s.\n\n")
    f.write(f"Catch-up: {queued} changes to work orders waiting in the outbox when the server starts, sent in {catchup}.\n")
print(open("bench/SEARCH.md").read())
PY
