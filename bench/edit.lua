-- wrk script: edits open work orders' notes, each thread over its own share of $ORDERS_FILE (lines of
-- "global-id version"), in a random order it then cycles through, so that no order is edited by two requests
-- at once; every answer's version is kept for that order's next edit, as a client would. (bench/ab.sh counts
-- the edits that landed from the versions in the database.)
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("me", counter)
end

local orders, versions, next_at = {}, {}, 1
function init(args)
  local threads = tonumber(os.getenv("THREADS") or "2")
  local i = 0
  for line in io.lines(os.getenv("ORDERS_FILE")) do
    i = i + 1
    if i % threads == (me - 1) then
      local id, v = line:match("^(%S+) (%d+)$")
      orders[#orders + 1] = id
      versions[id] = tonumber(v)
    end
  end
  math.randomseed(os.time() * 1000 + me)
  for k = #orders, 2, -1 do
    local j = math.random(k)
    orders[k], orders[j] = orders[j], orders[k]
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local q = "mutation($input: UpdateWorkOrderInput!) { updateWorkOrder(input: $input) { workOrder { id version } errors { code } } }"

function request()
  local id = orders[next_at]
  next_at = next_at % #orders + 1
  local body = string.format('{"query":"%s","variables":{"input":{"id":"%s","version":%d,"notes":"bench %d"}}}',
    q:gsub('"', '\\"'), id, versions[id], math.random(1000000))
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  local id, v = body:match('"id":"([^"]+)","version":(%d+)')
  if id then
    versions[id] = tonumber(v)
  end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status))
end
