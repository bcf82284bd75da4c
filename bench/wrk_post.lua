-- wrk script for bench/http.py: POST /events, one new sale per request.
--
-- Environment: WRK_TOKEN (bearer token; none for the bare endpoint), WRK_PREFIX
-- (sale id prefix, unique per run), WRK_ACKED (file that receives the event id
-- of every acknowledged write, one per line). done() prints one JSON line.

local token = os.getenv("WRK_TOKEN") or ""
local prefix = os.getenv("WRK_PREFIX") or "W"
local acked_path = os.getenv("WRK_ACKED")
local counter = 0
local acked = nil
local threads = 0
local headers = { ["Content-Type"] = "application/json" }
if token ~= "" then
  headers["Authorization"] = "Bearer " .. token
end

function setup(thread)
  threads = threads + 1
  thread:set("thread_index", threads)
end

function init(args)
  if acked_path then
    acked = io.open(acked_path, "a")
  end
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"type":"SaleRecorded","occurred_at":"2026-08-14T10:00:00+08:00","sale_id":"%s%d",'
      .. '"rep_id":"rep-%03d","amount":"1234.50","currency":"CNY","category":"software"}',
    prefix .. (thread_index or 1) .. "-", counter, counter % 50)
  return wrk.format("POST", "/events", headers, body)
end

function response(status, headers, body)
  if acked and status == 201 then
    local event_id = string.match(body, '"event_id":"([^"]+)"')
    if event_id then
      acked:write(event_id, "\n")
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
      .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
