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

dofile("scripts/bench/report.lua")
