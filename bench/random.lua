-- wrk script: POSTs, each with a body drawn at random from $BODIES_FILE (one JSON body per line: the same
-- operation for many different records), with the access token in $TOKEN, as the SPA does.
local bodies = {}
for line in io.lines(os.getenv("BODIES_FILE")) do
  bodies[#bodies + 1] = line
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
  return wrk.format(nil, nil, nil, bodies[math.random(#bodies)])
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status))
end
