/**
 * Lua run once when the VM starts: the constants and helpers of the `redis` table, Lua 5.1
 * names scripts written for Redis expect, the protected global table, and (returned) the error
 * handler that turns any error into Redis's `{err=, source=, line=}` table.
 */
export const LUA_PRELUDE = `
local redis, debug, setmetatable, rawget, tostring, type, error = redis, debug, setmetatable, rawget, tostring, type, error
local string, math, table = string, math, table
local tpack = table.pack

redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
-- Effects replication is the only mode since 7.0: asking for it succeeds.
redis.replicate_commands = function() return true end
-- No debugger here: as in Redis when no debugging session runs.
redis.breakpoint = function() return false end
redis.debug = function() end
-- Lua 5.1 names (Redis runs Lua 5.1).
unpack = table.unpack
local rawload0 = load
loadstring = function(s, name) return rawload0(s, name, 't') end
table.getn = function(t) return #t end
math.pow = function(x, y) return x ^ y end
math.mod = math.fmod
math.log10 = function(x) return math.log(x, 10) end
math.ldexp = function(m, e) return m * 2.0 ^ e end
math.frexp = function(x)
  if x == 0 or x ~= x or x == math.huge or x == -math.huge then return x, 0 end
  local e = math.floor(math.log(math.abs(x), 2)) + 1
  local m = x / 2.0 ^ e
  if math.abs(m) >= 1 then m = m / 2; e = e + 1 end
  if math.abs(m) < 0.5 then m = m * 2; e = e - 1 end
  return m, e
end
math.cosh = function(x) return (math.exp(x) + math.exp(-x)) / 2 end
math.sinh = function(x) return (math.exp(x) - math.exp(-x)) / 2 end
math.tanh = function(x) local a, b = math.exp(x), math.exp(-x) return (a - b) / (a + b) end
string.gfind = string.gmatch

-- Lua 5.1's library, not 5.3's: names 5.3 added are gone, names 5.1 had are back.
_VERSION = 'Lua 5.1'
string.pack, string.packsize, string.unpack = nil, nil, nil
math.type, math.tointeger, math.ult, math.maxinteger, math.mininteger = nil, nil, nil, nil, nil
table.move, table.pack, table.unpack, coroutine.isyieldable = nil, nil, nil, nil
table.maxn = function(t)
  local max = 0
  for k in pairs(t) do
    if type(k) == 'number' and k > max then max = k end
  end
  return max
end
table.foreach = function(t, f)
  for k, v in pairs(t) do
    local r = f(k, v)
    if r ~= nil then return r end
  end
end
table.foreachi = function(t, f)
  for i = 1, #t do
    local r = f(i, t[i])
    if r ~= nil then return r end
  end
end
local rawrep = string.rep
string.rep = function(s, n) return rawrep(s, n) end
local rawload = load
_G.load = function(f, name)
  if type(f) ~= 'function' then
    error("bad argument #1 to 'load' (function expected, got " .. (f == nil and 'no value' or type(f)) .. ')', 2)
  end
  return rawload(f, name)
end
-- fengari has no collector of its own (JavaScript's collects): the calls succeed, as no-ops.
_G.collectgarbage = function(opt)
  if opt == nil or opt == 'collect' or opt == 'count' then return 0 end
  if opt == 'step' then return false end
  return 0
end
gcinfo = function() return 0 end

-- string.format's %d and %i take any number, truncated, as Lua 5.1's (C's (long long) cast);
-- fengari's take 32-bit integers only.
local sformat, floor, ceil, select, unpack = string.format, math.floor, math.ceil, select, unpack
local cformat = __cformat
_G.__cformat = nil
string.format = function(fmt, ...)
  local n = select('#', ...)
  local args = {...}
  local i = 0
  local f = string.gsub(fmt, '%%([-+ #0]*%d*%.?%d*)(.?)', function(spec, conv)
    if conv == '%' and spec == '' then return nil end
    i = i + 1
    local v = args[i]
    if string.find('eEfFgG', conv, 1, true) and conv ~= '' and type(v) == 'number' then
      local flags, width, prec = string.match(spec, '^([-+ #0]*)(%d*)%.?(%d*)$')
      local hasprec = string.find(spec, '.', 1, true) ~= nil
      args[i] = cformat(flags, tonumber(width) or -1, hasprec and (tonumber(prec) or 0) or -1, conv, v)
      return '%s'
    end
    if (conv == 'd' or conv == 'i') and type(v) == 'number' then
      if v ~= v then v = -9223372036854775808 end
      v = v >= 0 and floor(v) or ceil(v)
      if v >= -2147483648 and v <= 2147483647 then
        args[i] = v
        return nil
      end
      if v >= 9223372036854775808 or v < -9223372036854775808 then v = -9223372036854775808 end
      args[i] = sformat('%.0f', v)
      return '%' .. string.gsub(spec, '%.%d*', '') .. 's'
    end
    return nil
  end)
  return sformat(f, unpack(args, 1, n))
end

-- pcall hands out an error table's text, as Redis's pcall does.
local rawpcall, pack = pcall, tpack
_G.pcall = function(...)
  local r = pack(rawpcall(...))
  if not r[1] and type(r[2]) == 'table' then
    local e = r[2].err
    if type(e) == 'string' or type(e) == 'number' then return false, e end
  end
  return unpack(r, 1, r.n)
end

-- What Redis leaves out of a script's reach.
dofile, loadfile, require, module, print = nil, nil, nil, nil, nil
_G.debug = nil
io, os, package, utf8 = nil, nil, nil, nil

-- redis.register_function exists only in the 'redis' library code sees while it loads.
local register_function = redis.register_function
redis.register_function = nil

-- Library tables and the global table are read-only, as in Redis 7.0.
local function readonly(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __pairs = function() return next, t, nil end,
    __len = function() return #t end,
    __metatable = false,
  })
end
-- rawset and setmetatable cannot get around the protection either.
local protected = setmetatable({}, {__mode = 'k'})
for _, name in ipairs({'redis', 'string', 'math', 'table', 'coroutine'}) do
  if _G[name] then
    protected[_G[name]] = true
    _G[name] = readonly(_G[name])
    protected[_G[name]] = true
  end
end
local G = _G
protected[G] = true
local rawrawset = rawset
_G.rawset = function(t, k, v)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return rawrawset(t, k, v)
end
_G.setmetatable = function(t, mt)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return setmetatable(t, mt)
end
-- A read-only library table has no metatable to show (its protection is not one in Redis).
local rawgetmetatable = getmetatable
_G.getmetatable = function(t)
  local mt = rawgetmetatable(t)
  if mt == false then return nil end
  return mt
end
-- What getmetatable(_G) shows: a read-only table whose __index refuses unknown globals, as
-- Redis's global table's metatable.
local globals_meta = readonly({
  __index = function(...)
    if select('#', ...) ~= 2 then error('Wrong number of arguments to luaProtectedTableError', 2) end
    local _, k = ...
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})
protected[globals_meta] = true
-- Every global lives in a table behind G, so that assigning any name, even one that exists,
-- reaches __newindex and is refused, as with Redis's read-only global table.
local backing = {}
for k, v in next, G do backing[k] = v end
for k in next, backing do rawrawset(G, k, nil) end
setmetatable(backing, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})
setmetatable(G, {
  __index = backing,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = globals_meta,
})

-- While FUNCTION LOAD runs a library's code, 'redis' offers only what registration needs.
local loader_fields = {
  register_function = register_function,
  log = rawget(backing, 'redis').log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = rawget(backing, 'redis').REDIS_VERSION,
  REDIS_VERSION_NUM = rawget(backing, 'redis').REDIS_VERSION_NUM,
}
local loader_redis = setmetatable({}, {
  __index = function(_, k)
    local v = loader_fields[k]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})

-- The globals of library code (FUNCTION LOAD): while the library loads, only 'redis' (the
-- loading one); when its functions run, the real globals.
local loading = false
local fenv = setmetatable({}, {
  __index = function(_, k)
    local v
    if loading then
      if k == 'redis' then v = loader_redis end
    else
      v = rawget(backing, k)
    end
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = globals_meta,
})
local function set_loading(v) loading = v end

-- Lua 5.1's words for a type error: "attempt to index local 't' (a nil value)".
local gsub = string.gsub
local function lua51_message(m)
  if type(m) ~= 'string' then return m end
  return (gsub(m, "attempt to (.-) a (%a+) value %((%a+) '(.-)'%)$", "attempt to %1 %3 '%4' (a %2 value)"))
end

local getinfo = debug.getinfo
local handler = function(err)
  local level = 2
  local i = getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.what == 'J' or i.source == '=prelude') do
    level = level + 1
    i = getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(lua51_message(err))} end
  if i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end
-- Runs a script under the error handler (scripts run as coroutines, which may yield).
local xpcall = xpcall
local function trampoline(f, ...) return xpcall(f, handler, ...) end
return handler, fenv, set_loading, trampoline, backing
`;
