-- wrk script: poll GET /v1/policy/latest, with If-None-Match when ETAG is set.
local etag = os.getenv("ETAG")
function request()
  local headers = {}
  if etag and etag ~= "" then headers["If-None-Match"] = etag end
  return wrk.format("GET", "/v1/policy/latest", headers)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors=%d non2xx=%d seconds=%.3f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
