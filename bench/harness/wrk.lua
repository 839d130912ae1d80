-- Driven by environment: WRK_METHOD, WRK_BODY, WRK_AUTH. Prints one WRKJSON line with the
-- figures bench/run.ts reads (latency in microseconds).
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and #body > 0 then
  wrk.body = body
  wrk.headers["content-type"] = "application/json"
end
local auth = os.getenv("WRK_AUTH")
if auth and #auth > 0 then wrk.headers["authorization"] = auth end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"non2xx":%d,"mean_us":%.1f,"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency.mean, latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
