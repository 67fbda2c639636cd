// The Lua scripts every write to the shared Redis/Valkey registry runs as: one script per write, so rules and caps hold across servers.
//
// Layout (prefix p2p:, one logical index per Redis database):
//   p2p:entries  hash   "peer\ncontent" -> "host\tport\tsize\tcontenthex\texpiresAt\towner\tsource\tseq" (contenthex: SHA-256 then packed claims)
//   p2p:peer:<n> set    content names registered under peer name n
//   p2p:owners   hash   peer -> owner (hex of the 32-byte digest or verifier; opaque here)
//   p2p:used     zset   peer -> last use (ms): ownership is kept for --owner-ttl after it
//   p2p:src      hash   source unit (IPv4 address or IPv6 /64) -> registrations from it
//   p2p:sec      hash   owner -> registrations under all its names
//   p2p:leases   zset   "peer\ncontent" -> lease end (ms), swept by SWEEP
//   p2p:seq      string registration counter
//   p2p:log      stream every change, capped (MAXLEN ~): o=u (upsert, f, v) or o=d (delete, f)
// Names never hold control characters (protocol/names), so \n and \t cannot occur inside a field.
// Only Redis 7.0 / Valkey 8 commands; p2p:peer:<n> keys are named inside the scripts, so this
// layout wants one Redis (or a primary with replicas), not a cluster.

export const PREFIX = 'p2p:';
export const KEYS = {
  entries: `${PREFIX}entries`,
  owners: `${PREFIX}owners`,
  used: `${PREFIX}used`,
  src: `${PREFIX}src`,
  sec: `${PREFIX}sec`,
  leases: `${PREFIX}leases`,
  seq: `${PREFIX}seq`,
  log: `${PREFIX}log`,
  cookieKey: `${PREFIX}cookie-key`,
} as const;

/** The keys every script is given, in this order (KEYS[1]..KEYS[8] inside Lua). */
export const SCRIPT_KEYS = [KEYS.entries, KEYS.owners, KEYS.used, KEYS.src, KEYS.sec, KEYS.leases, KEYS.seq, KEYS.log];

/** Removes one registration and logs it; shared by T and the lease sweep. */
const DROP = String.raw`
local function drop(peer, c, maxlen)
  local field = peer .. '\n' .. c
  redis.call('SREM', '${PREFIX}peer:' .. peer, c)
  local val = redis.call('HGET', KEYS[1], field)
  if not val then return end
  local owner, src = string.match(val, '^[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t([^\t]*)\t([^\t]*)\t')
  redis.call('HDEL', KEYS[1], field)
  redis.call('ZREM', KEYS[6], field)
  if redis.call('HINCRBY', KEYS[4], src, -1) <= 0 then redis.call('HDEL', KEYS[4], src) end
  if redis.call('HINCRBY', KEYS[5], owner, -1) <= 0 then redis.call('HDEL', KEYS[5], owner) end
  redis.call('XADD', KEYS[8], 'MAXLEN', '~', maxlen, '*', 'o', 'd', 'f', field)
end
`;

/**
 * R. ARGV: peer, content, owner, host, port, size, sha256hex, expiresAt, source, maxPerPeer,
 * maxPerSecret, maxPerAddress, maxEntries, now, ownerCutoff (now - owner ttl), maxlen.
 * Returns {'OK', refreshed '0'|'1', value} or {CODE, count}: the Registry's rules in its order.
 */
export const REGISTER = String.raw`
local peer, content, owner, src = ARGV[1], ARGV[2], ARGV[3], ARGV[9]
local field = peer .. '\n' .. content
local peerKey = '${PREFIX}peer:' .. peer
local bound = redis.call('HGET', KEYS[2], peer)
if bound and bound ~= owner then
  local used = tonumber(redis.call('ZSCORE', KEYS[3], peer) or '0')
  if redis.call('SCARD', peerKey) > 0 or used > tonumber(ARGV[15]) then return {'NAME_TAKEN', '0'} end
end
local function put(val)
  redis.call('HSET', KEYS[1], field, val)
  redis.call('ZADD', KEYS[6], ARGV[8], field)
  redis.call('HSET', KEYS[2], peer, owner)
  redis.call('ZADD', KEYS[3], ARGV[14], peer)
  redis.call('XADD', KEYS[8], 'MAXLEN', '~', ARGV[16], '*', 'o', 'u', 'f', field, 'v', val)
end
local old = redis.call('HGET', KEYS[1], field)
if old then
  local oldSrc, seq = string.match(old, '\t([^\t]*)\t([^\t]*)$')
  if oldSrc ~= src then
    if redis.call('HINCRBY', KEYS[4], oldSrc, -1) <= 0 then redis.call('HDEL', KEYS[4], oldSrc) end
    redis.call('HINCRBY', KEYS[4], src, 1)
  end
  local val = table.concat({ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], owner, src, seq}, '\t')
  put(val)
  return {'OK', '1', val}
end
local held = redis.call('SCARD', peerKey)
if held >= tonumber(ARGV[10]) then return {'PEER_LIMIT', tostring(held)} end
local bySecret = tonumber(redis.call('HGET', KEYS[5], owner) or '0')
if bySecret >= tonumber(ARGV[11]) then return {'SECRET_LIMIT', tostring(bySecret)} end
local fromSrc = tonumber(redis.call('HGET', KEYS[4], src) or '0')
if fromSrc >= tonumber(ARGV[12]) then return {'ADDRESS_LIMIT', tostring(fromSrc)} end
local total = redis.call('HLEN', KEYS[1])
if total >= tonumber(ARGV[13]) then return {'INDEX_FULL', tostring(total)} end
local seq = redis.call('INCR', KEYS[7])
local val = table.concat({ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], owner, src, tostring(seq)}, '\t')
redis.call('SADD', peerKey, content)
redis.call('HINCRBY', KEYS[5], owner, 1)
redis.call('HINCRBY', KEYS[4], src, 1)
put(val)
return {'OK', '0', val}
`;

/** T. ARGV: peer, content ('' = all), owner, maxlen. Returns {'OK', removed} or {CODE, '0'}. */
export const DEREGISTER = String.raw`${DROP}
local peer, content, owner = ARGV[1], ARGV[2], ARGV[3]
local peerKey = '${PREFIX}peer:' .. peer
if redis.call('SCARD', peerKey) == 0 then return {'NOT_REGISTERED', '0'} end
if redis.call('HGET', KEYS[2], peer) ~= owner then return {'NAME_TAKEN', '0'} end
local names
if content == '' then
  names = redis.call('SMEMBERS', peerKey)
else
  if redis.call('SISMEMBER', peerKey, content) == 0 then return {'NOT_REGISTERED', '0'} end
  names = {content}
end
for _, c in ipairs(names) do drop(peer, c, ARGV[4]) end
return {'OK', tostring(#names)}
`;

/** Lease and ownership sweep. ARGV: now, limit, ownerCutoff, maxlen. Returns the registrations removed. */
export const SWEEP = String.raw`${DROP}
local gone = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, field in ipairs(gone) do
  local peer, c = string.match(field, '^([^\n]*)\n(.*)$')
  drop(peer, c, ARGV[4])
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[3], 'LIMIT', 0, ARGV[2])
for _, peer in ipairs(stale) do
  if redis.call('SCARD', '${PREFIX}peer:' .. peer) == 0 then
    redis.call('HDEL', KEYS[2], peer)
    redis.call('ZREM', KEYS[3], peer)
  end
end
return #gone
`;
