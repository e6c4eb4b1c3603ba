-- wrk script: keeps `depth` requests in flight on each connection (HTTP
-- pipelining, like autocannon's `pipelining`), and prints its figures as one
-- JSON line for bench/run.ts. Usage: wrk -s bench/pipeline.lua <url> -- <depth>
local depth = 1

function init (args)
  depth = tonumber(args[1]) or 1
  local batch = {}
  for i = 1, depth do batch[i] = wrk.format(nil) end
  pipelined = table.concat(batch)
end

function request ()
  return pipelined
end

function done (summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"bytes":%d,"non2xx3xx":%d,"errors":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
