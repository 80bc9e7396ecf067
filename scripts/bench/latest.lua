-- wrk script: poll GET /v1/policy/latest, with If-None-Match when ETAG is set.
local etag = os.getenv("ETAG")
function request()
  local headers = {}
  if etag and etag ~= "" then headers["If-None-Match"] = etag end
  return wrk.format("GET", "/v1/policy/latest", headers)
end

dofile("scripts/bench/report.lua")
