--[[
  xadd-batch: append a batch of messages to one ingest stream in one round trip and return their ids.
  KEYS[1]  the ingest stream (one shard; one Cluster slot)
  ARGV[1..6] the entry field names: envelope, id, traceparent, replyTo, durableAck, acceptedAt
             (passed in so protocol/stream-entry.ts stays their only home)
  ARGV[7]  acceptedAt (ms since epoch) shared by the batch
  then 5 values per message: envelope bytes, message id, traceparent, reply address, durable gateway id
  (an empty string = field absent). Never trims: the persister trims what it has persisted.
  Returns the stream ids in argument order.
]]
local key = KEYS[1]
local fE, fI, fT, fR, fD, fA = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local at = ARGV[7]
local ids = {}
local n = 0
for j = 8, #ARGV, 5 do
  local t, r, d = ARGV[j + 2], ARGV[j + 3], ARGV[j + 4]
  n = n + 1
  if r == '' and d == '' then
    if t == '' then
      ids[n] = redis.call('XADD', key, '*', fE, ARGV[j], fI, ARGV[j + 1], fA, at)
    else
      ids[n] = redis.call('XADD', key, '*', fE, ARGV[j], fI, ARGV[j + 1], fT, t, fA, at)
    end
  else
    local args = { 'XADD', key, '*', fE, ARGV[j], fI, ARGV[j + 1] }
    if t ~= '' then args[#args + 1] = fT; args[#args + 1] = t end
    if r ~= '' then args[#args + 1] = fR; args[#args + 1] = r end
    if d ~= '' then args[#args + 1] = fD; args[#args + 1] = d end
    args[#args + 1] = fA
    args[#args + 1] = at
    ids[n] = redis.call(unpack(args))
  end
end
return ids
