-- wrk script: poll GET /v1/policy/latest as an edge does (its token, EDGE_TOKEN), with
-- If-None-Match when ETAG is set.
local etag = os.getenv("ETAG")
local token = os.getenv("EDGE_TOKEN")
function request()
  local headers = {}
  if etag and etag ~= "" then headers["If-None-Match"] = etag end
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", "/v1/policy/latest", headers)
end

dofile("scripts/bench/report.lua")
