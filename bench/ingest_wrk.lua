-- wrk script for bench/ingest.py: POST realistic batches (~60 pointer moves) with distinct (token, seq).
-- Environment: BENCH_TOKENS (file, one token per line), BENCH_PATH, BENCH_PAGE, BENCH_SEQ_BASE.

local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local path = os.getenv("BENCH_PATH")
local page = os.getenv("BENCH_PAGE")
local seq_base = tonumber(os.getenv("BENCH_SEQ_BASE"))
local threads, thread_id, counter = 0, 0, 0

local now = os.time() * 1000
local moves = {}
for k = 0, 59 do
  moves[#moves + 1] = string.format('{"type":"move","i":%d,"x":%.17f,"y":%.17f,"time":%d}',
    k % 48, (k * 0.0151) % 1, (k * 0.0234 + 0.1) % 1, now + k * 17)
end
local events = "[" .. table.concat(moves, ",") .. "]"
local headers = {["Content-Type"] = "text/plain;charset=UTF-8"}

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function init(args)
  thread_id = tonumber(wrk.thread:get("thread_id")) or 0
end

function request()
  counter = counter + 1
  -- tokens round-robin; seq unique per (thread, counter) so no two requests share a key
  local token = tokens[(counter % #tokens) + 1]
  local seq = seq_base + thread_id * 1000000 + counter
  local body = '{"token":"' .. token .. '","page":' .. page .. ',"tab":0,"seq":' .. seq .. ',"events":' .. events .. '}'
  return wrk.format("POST", path, headers, body)
end
