-- wrk script for benches/load.sh: GET /me with a different session token on every request,
-- taken in rotation from the file TOKENS_FILE (one token per line). Thread k of n sends the
-- tokens k, k+n, k+2n, ... so the threads together walk the whole list.
--
-- ONCE=1: each thread stops once it has had an answer for every token of its share, so a run
-- verifies each distinct session about once (the memory measurement); otherwise the rotation
-- repeats until wrk's duration is over (the cold path).

local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
  nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  i = id
  share = 0
  for k = id, #tokens, nthreads do
    share = share + 1
  end
  answered = 0
end

function request()
  local token = tokens[i]
  i = i + nthreads
  if i > #tokens then
    i = id
  end
  return wrk.format("GET", "/me", { ["Authorization"] = "Bearer " .. token })
end

if os.getenv("ONCE") == "1" then
  function response(status, headers, body)
    answered = answered + 1
    if answered >= share then
      wrk.thread:stop()
    end
  end
end
