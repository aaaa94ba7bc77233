-- One chat completion per request; BENCH_KEY is the gateway key (ignored by the bare route).
wrk.method = "POST"
-- BENCH_STREAM=1: a streamed completion (server-sent events), to warm the streaming path up
if os.getenv("BENCH_STREAM") == "1" then
  wrk.body = '{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"hi"}]}'
else
  wrk.body = '{"model":"bench-model","max_tokens":16,"messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
end
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "none")

-- With BENCH_DELAY_MS set, each connection pauses that long before each request: an approximately
-- fixed offered load below saturation (Debian's wrk has no constant-rate mode).
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end
