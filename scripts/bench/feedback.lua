-- wrk script: POST feedback batches of BATCH decision events, every event id unique.
local batch = tonumber(os.getenv("BATCH") or "100")
local token = os.getenv("EDGE_TOKEN")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads .. "-" .. os.time())
end

local counter = 0
function request()
  counter = counter + 1
  local parts = {}
  for i = 1, batch do
    parts[i] = string.format('{"event_id":"%s-%d-%d","type":"decision","decision_id":"d-%s-%d-%d","session_id":"s%d",' ..
      '"sku":"sku-1001","policy_version":1,"arm":"model","price":44.99,"cost":22.0,"propensity":0.87,"time":1795867200}',
      tid, counter, i, tid, counter, i, i)
  end
  return wrk.format("POST", "/v1/feedback", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
    "[" .. table.concat(parts, ",") .. "]")
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors=%d non2xx=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
