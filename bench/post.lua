-- wrk script: POST one fixed images.generations body on every connection, stop at a request cap,
-- and print one machine-readable line at the end: "BENCH_JSON {...}".
--
-- Environment (bench/run.py sets it):
--   BENCH_BODY      the JSON body
--   BENCH_METHOD    GET sends no body (bench/downloads.py); POST by default
--   BENCH_KEY       sent as "Authorization: Bearer <key>" when set; several keys separated by spaces
--                   are used in turn, one request each (bench/run.py --accounts N)
--   BENCH_CAP       requests per wrk thread (0: no cap). The first thread to reach its share ends
--                   the whole run: it signals wrk (SIGINT), which reports the real elapsed time.
--
--   BENCH_BODY='{"model":"m","prompt":"p","size":"256x256"}' BENCH_KEY=ig_live_... BENCH_CAP=100000 \
--     wrk -t2 -c64 -d15s --timeout 60s -s bench/post.lua http://127.0.0.1:8000/v1/images/generations

wrk.method = os.getenv("BENCH_METHOD") or "POST"
if wrk.method == "POST" then
  wrk.body = os.getenv("BENCH_BODY") or '{"model":"bench-tiny","prompt":"a fox","size":"256x256"}'
  wrk.headers["Content-Type"] = "application/json"
end
local keys = {}
for k in string.gmatch(os.getenv("BENCH_KEY") or "", "%S+") do
  keys[#keys + 1] = k
end
if #keys > 0 then
  wrk.headers["Authorization"] = "Bearer " .. keys[1]
end

local cap = tonumber(os.getenv("BENCH_CAP") or "0") or 0
local sent = 0
local prepared = nil

function request()
  if prepared == nil then
    prepared = {}
    for i = 1, math.max(1, #keys) do
      if #keys > 0 then
        wrk.headers["Authorization"] = "Bearer " .. keys[i]
      end
      prepared[i] = wrk.format()
    end
  end
  sent = sent + 1
  if cap > 0 and sent == cap then
    -- wrk ignores SIGINT while os.execute runs, so signal it from a detached job a moment later.
    os.execute("(sleep 0.02; kill -INT $PPID) >/dev/null 2>&1 &")
  end
  return prepared[(sent % #prepared) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  local function ms(q) return latency:percentile(q) / 1000.0 end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_ms":{"min":%.3f,"mean":%.3f,"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f}}\n',
    summary.requests, summary.duration / 1e6, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min / 1000.0, latency.mean / 1000.0, ms(50), ms(90), ms(99), latency.max / 1000.0))
end
