-- wrk script: GET the URL path with an optional Cookie (COOKIE) and print one BENCH line.
local cookie = os.getenv("COOKIE")
function request()
  local headers = {}
  if cookie and cookie ~= "" then headers["Cookie"] = cookie end
  return wrk.format("GET", nil, headers)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors=%d non2xx=%d seconds=%.3f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
