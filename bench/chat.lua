-- wrk script for bench/run.sh: POSTs the chat request in bench/chat-request.json (model "bench"),
-- as is for mode json, with "stream":true added for mode sse.
-- Usage: wrk ... -s bench/chat.lua URL -- json|sse [REQUEST_FILE] [BEARER]
-- At the end it prints one machine-readable line that run.sh parses:
--   BENCH requests=N duration_us=N p50_us=N p99_us=N non2xx=N connect=N read=N write=N timeout=N

local request_text

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return (text:gsub("%s+$", ""))
end

function init(args)
  local mode = args[1] or "json"
  assert(mode == "json" or mode == "sse", "mode must be json or sse, got " .. tostring(mode))
  local body = read_file(args[2] or "bench/chat-request.json")
  if mode == "sse" then
    body = body:gsub("}$", ',"stream":true}')
  end
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = mode == "sse" and "text/event-stream" or "application/json"
  if args[3] then wrk.headers["Authorization"] = "Bearer " .. args[3] end
  request_text = wrk.format()
end

function request()
  return request_text
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
