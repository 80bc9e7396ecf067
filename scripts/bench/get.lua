-- wrk script: GET the URL path with an optional Cookie (COOKIE) and print one BENCH line.
local cookie = os.getenv("COOKIE")
function request()
  local headers = {}
  if cookie and cookie ~= "" then headers["Cookie"] = cookie end
  return wrk.format("GET", nil, headers)
end

dofile("scripts/bench/report.lua")
