"""The Lua runtime of EVAL and FUNCTION: a sandboxed Lua 5.1 (``lupa.lua51``, the
Lua Redis embeds) with Redis 7.0's ``redis`` API and its value conversions.

Invariants:
* One ``LuaVM`` per purpose: the EVAL scripts' VM (recreated by SCRIPT FLUSH) and
  the functions' VM. A VM is used by one thread at a time: the worker thread while a
  script runs (``scripting_run``), otherwise the event loop's thread. Nothing here
  touches the keyspace: ``redis.call`` goes through a ``Bridge`` that runs the
  command where the keyspace lives and hands back the plain reply.
* Globals are read-only as in Redis 7.0: a script runs with an environment whose
  writes fail ("Attempt to modify a readonly table") and whose reads of a missing
  name fail ("Script attempted to access nonexistent global variable 'x'");
  ``KEYS``/``ARGV`` are set by the runtime, not the script. ``print``, ``io``,
  ``os``, ``loadfile``, ``dofile``, ``require``, ``debug`` are absent.
* Conversions are Redis 7.0's (``redisProtocolToLuaType`` and
  ``luaReplyToRedisReply``): replies to Lua in the script's RESP (``redis.setresp``),
  Lua values to the caller's RESP; error tables become error replies.
* A raised error ends the script with ``-<err> script: <name>, on <source>:<line>.``,
  the source and line of the innermost script frame (internal frames skipped).

Not provided: ``struct``, ``cmsgpack`` and ``cjson``'s options; ``math.random`` is
Lua's own generator, not Redis's rand48 sequence.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Protocol

from lupa import lua51

from . import errors
from .errors import RedisError
from .reply_parser import ErrorReply, ReplyParser
from .reply_parser import Status as ParsedStatus
from .resp import (BigBool, Double, Map, NullArray, Push, Raw, SetReply, Status, Verbatim, format_double)

# The chunk name of the runtime's own Lua code: its frames are skipped when an error
# is attributed to a line of the user's script.
_INTERNAL = "=redis_internal"

_BOOT = r"""
local py_call, py_pcall, py_unwrap, py_sha1, py_log, py_setresp, py_killcheck, py_json_enc, py_json_dec, bitops = ...
local G = _G
local dbg, raw_pcall, raw_rawset, raw_error, fmt = debug, pcall, rawset, error, string.format
local select, type, tostring, setfenv, unpack = select, type, tostring, setfenv, unpack
for _, name in ipairs({'print', 'io', 'os', 'loadfile', 'dofile', 'require', 'module',
                       'package', 'python', 'debug'}) do G[name] = nil end

local env = {}
local readonly = {[env] = true}
setmetatable(env, {
  __index = function(_, k)
    local v = G[k]
    if v == nil then
      raw_error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = function() raw_error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})
G._G = env
G.rawset = function(t, k, v)
  if readonly[t] then raw_error('Attempt to modify a readonly table', 0) end
  return raw_rawset(t, k, v)
end
G.pcall = function(f, ...)
  local r = {raw_pcall(f, ...)}
  if not r[1] then r[2] = py_unwrap(r[2]) end
  if not r[1] and type(r[2]) == 'table' and type(r[2].err) == 'string' then r[2] = r[2].err end
  return unpack(r, 1, table.maxn(r))
end

local redis = {}
-- Python functions, so C functions to Lua as in Redis: `return redis.call(...)` keeps
-- the script's frame (a Lua wrapper would be tail-called away with its line).
redis.call = py_call
redis.pcall = py_pcall
redis.error_reply = function(msg)
  if type(msg) ~= 'string' then raw_error('wrong number or type of arguments', 2) end
  if msg:sub(1, 1) == '-' then msg = msg:sub(2) end
  local space = msg:find(' ')
  if not space then msg = 'ERR ' .. msg end
  return {err = msg}
end
redis.status_reply = function(msg)
  if type(msg) ~= 'string' then raw_error('wrong number or type of arguments', 2) end
  return {ok = msg}
end
redis.sha1hex = function(s)
  if type(s) ~= 'string' and type(s) ~= 'number' then raw_error('wrong number of arguments', 2) end
  return py_sha1(tostring(s))
end
redis.log = function(level, ...)
  if select('#', ...) == 0 then raw_error('redis.log() requires two arguments or more.', 2) end
  if type(level) ~= 'number' then raw_error('First argument must be a number (log level).', 2) end
  if level < 0 or level > 3 then raw_error('Invalid debug level.', 2) end
  local parts = {}
  for i = 1, select('#', ...) do parts[i] = tostring((select(i, ...))) end
  py_log(level, table.concat(parts, ' '))
end
redis.setresp = py_setresp
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = function(...) return true end
redis.REDIS_VERSION = '7.0.15'
redis.REDIS_VERSION_NUM = 458767
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
G.redis = redis
G.cjson = {encode = function(v) return py_json_enc(v) end, decode = function(s) return py_json_dec(s) end}
G.bit = bitops

local killed_hook
local function hook()
  if py_killcheck() then
    dbg.sethook(killed_hook, '', 1)
    raw_error({err = 'ERR Script killed by user with SCRIPT KILL...'})
  end
end
killed_hook = function() raw_error({err = 'ERR Script killed by user with SCRIPT KILL...'}) end

-- debug.sethook sets a hook for one Lua thread only (lupa's Lua 5.1 keeps the hook
-- function per thread), so a loop inside a coroutine would never see SCRIPT KILL:
-- every coroutine starts with the hook of the thread that created it, as a C hook
-- would be inherited in Redis.
local co_create, co_wrap = coroutine.create, coroutine.wrap
local function hooked_create(f)
  local co = co_create(f)
  local h, mask, count = dbg.gethook()
  if h then dbg.sethook(co, h, mask, count) end
  return co
end
coroutine.create = hooked_create
coroutine.wrap = function(f)
  -- Lua's own wrap (its errors gain the caller's position as in Redis); the new
  -- thread takes the hook itself when first resumed
  local h, mask, count = dbg.gethook()
  return co_wrap(function(...)
    if h then dbg.sethook(h, mask, count) end
    return f(...)
  end)
end

local function handler(err)
  dbg.sethook()  -- a killed script's every-instruction hook must not fire in here
  err = py_unwrap(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '=redis_internal') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if i then err.source = i.source; err.line = i.currentline end
  return err
end

local function compile(body, chunk)
  local f, e = loadstring(body, chunk)
  if not f then return nil, e end
  setfenv(f, env)
  return f, false
end

local function run(f, keys, args, as_function)
  G.KEYS, G.ARGV = keys, args
  local target = f
  if as_function then target = function() return f(keys, args) end end
  dbg.sethook(hook, '', 100000)
  local r = {xpcall(target, handler)}
  dbg.sethook()
  return r[1], r[2]
end

return compile, run, env, G
"""

_BIT32 = 0xFFFFFFFF


def _tobit(x: Any) -> int:
    n = int(x) & _BIT32
    return n - 2**32 if n & 0x80000000 else n


def _bitops(lua: Any) -> Any:
    """LuaBitOp's ``bit`` library (32-bit signed results)."""
    ops: dict[str, Callable[..., Any]] = {
        "tobit": _tobit,
        "bnot": lambda x: _tobit(~int(x)),
        "band": lambda *xs: _tobit(_fold(lambda a, b: a & b, xs)),
        "bor": lambda *xs: _tobit(_fold(lambda a, b: a | b, xs)),
        "bxor": lambda *xs: _tobit(_fold(lambda a, b: a ^ b, xs)),
        "lshift": lambda x, n: _tobit(int(x) << (int(n) & 31)),
        "rshift": lambda x, n: _tobit((int(x) & _BIT32) >> (int(n) & 31)),
        "arshift": lambda x, n: _tobit(_tobit(x) >> (int(n) & 31)),
        "rol": lambda x, n: _tobit(((int(x) & _BIT32) << (int(n) & 31)) | ((int(x) & _BIT32) >> (32 - (int(n) & 31)))),
        "ror": lambda x, n: _tobit(((int(x) & _BIT32) >> (int(n) & 31)) | ((int(x) & _BIT32) << (32 - (int(n) & 31)))),
        "bswap": lambda x: _tobit(int.from_bytes((int(x) & _BIT32).to_bytes(4, "little"), "big")),
        "tohex": lambda x, n=8: (b"%0*x" % (int(n), int(x) & _BIT32))[-int(n):],
    }
    return lua.table_from({k.encode(): v for k, v in ops.items()})


def _fold(fn: Callable[[int, int], int], xs: tuple[Any, ...]) -> int:
    acc = int(xs[0])
    for x in xs[1:]:
        acc = fn(acc, int(x))
    return acc


class ScriptError(Exception):
    """``redis.call``'s error: carries the ``{err=...}`` table into Lua's error path."""

    def __init__(self, table: Any) -> None:
        super().__init__("script error")
        self.table = table


class Bridge(Protocol):
    """What a running script reaches of the node."""

    def call(self, argv: list[bytes], resp: int) -> Any:
        """Run one command of the script; its plain reply (a RedisError on refusal)."""

    def killed(self) -> bool:
        """SCRIPT/FUNCTION KILL asked this script to stop."""

    def log(self, level: int, message: bytes) -> None:
        """redis.log."""


class LuaVM:
    """One Lua state with the Redis API; ``compile`` and ``run`` are its uses."""

    def __init__(self) -> None:
        self.lua = lua51.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                                    unpack_returned_tuples=True)
        self.bridge: Bridge | None = None
        self.resp = 2  # redis.setresp of the running script
        self.caller_proto = 2
        chunk = self.lua.eval("loadstring")(_BOOT.encode(), _INTERNAL.encode())
        boot = chunk(*self._callbacks())
        self._compile, self._run, self.env, self.globals = boot
        self._rawget = self.lua.eval("rawget")
        self._table = self.lua.table

    def _callbacks(self) -> tuple[Any, ...]:
        return (self._redis_call, self._redis_pcall, self._unwrap, lambda s: hashlib.sha1(s).hexdigest().encode(), self._py_log,
                self._py_setresp, self._py_killcheck, self._json_encode, self._json_decode, _bitops(self.lua))

    # -- Lua -> Python callbacks (on the script's thread) ------------------------------
    def _redis_call(self, *args: Any) -> Any:
        reply = self._redis_pcall(*args)
        if lua51.lua_type(reply) == "table" and isinstance(self._rawget(reply, b"err"), bytes):
            raise ScriptError(reply)
        return reply

    def _redis_pcall(self, *args: Any) -> Any:
        if not args:
            return self._kv(err=errors.SCRIPT_LIB_NO_ARGS.text)
        argv: list[bytes] = []
        for a in args:
            if isinstance(a, bytes):
                argv.append(a)
            elif isinstance(a, (int, float)) and not isinstance(a, bool):
                argv.append(b"%.17g" % float(a))  # Redis's own format: %g would lose digits
            else:
                return self._kv(err=errors.SCRIPT_LIB_BAD_ARG.text)
        assert self.bridge is not None
        return self.to_lua(self.bridge.call(argv, self.resp))

    def _unwrap(self, err: Any) -> Any:
        """An error raised by ``redis.call`` (a Python exception to Lua) as its table;
        a bug's exception as text; anything else unchanged."""
        if isinstance(err, ScriptError):
            return err.table
        if isinstance(err, BaseException):
            return f"{type(err).__name__}: {err}".encode()
        return err

    def _py_log(self, level: int, message: bytes) -> None:
        if self.bridge is not None:
            self.bridge.log(int(level), message)

    def _py_setresp(self, *args: Any) -> None:
        v = args[0] if len(args) == 1 else None
        if v not in (2, 3) or isinstance(v, bool):
            raise ScriptError(self._kv(err=errors.SCRIPT_RESP_VERSION.text))
        self.resp = int(v)

    def _py_killcheck(self) -> bool:
        return self.bridge is not None and self.bridge.killed()

    def _json_encode(self, value: Any) -> bytes:
        return json.dumps(self._plain(value), separators=(",", ":")).encode()

    def _json_decode(self, text: bytes) -> Any:
        return self._from_plain(json.loads(text))

    def _plain(self, v: Any) -> Any:
        if lua51.lua_type(v) == "table":
            n = len(v)
            if n and all(isinstance(k, (int, float)) for k in v.keys()):
                return [self._plain(v[i]) for i in range(1, n + 1)]
            return {(k.decode() if isinstance(k, bytes) else str(k)): self._plain(x) for k, x in v.items()}
        if isinstance(v, bytes):
            return v.decode("utf-8", "surrogateescape")
        return v

    def _from_plain(self, v: Any) -> Any:
        if isinstance(v, list):
            return self.lua.table_from([self._from_plain(x) for x in v])
        if isinstance(v, dict):
            return self.lua.table_from({k.encode(): self._from_plain(x) for k, x in v.items()})
        if isinstance(v, str):
            return v.encode()
        return v

    # -- compile and run -----------------------------------------------------------------
    def compile(self, body: bytes, chunk: bytes = b"@user_script") -> Any:
        """The script as a Lua function, or RedisError with Lua's compile message."""
        fn, err = self._compile(body, chunk)
        if fn is None or fn is False:
            return errors.script_error("compile_script", err)
        return fn

    def run(self, fn: Any, keys: list[bytes], args: list[bytes], name: bytes, bridge: Bridge, caller_proto: int,
            as_function: bool = False) -> Any:
        """Call a compiled script (on the script's thread); its reply for the caller.
        A function (FCALL) gets ``(keys, args)`` as arguments instead of KEYS/ARGV."""
        self.bridge, self.resp, self.caller_proto = bridge, 2, caller_proto
        try:
            ok, value = self._run(fn, self.lua.table_from(keys), self.lua.table_from(args), as_function)
            if ok:
                return self.to_reply(value)
            return self.error_reply(value, name)
        finally:
            self.bridge = None

    def error_reply(self, err: Any, name: bytes) -> RedisError:
        if lua51.lua_type(err) == "table":
            msg = self._rawget(err, b"err")
            source, line = self._rawget(err, b"source"), self._rawget(err, b"line")
            if isinstance(msg, bytes):
                if source is not None:
                    return RedisError(b"%b script: %b, on %b:%d." % (msg, name, source, int(line or 0)))
                return RedisError(msg)
        return errors.script_run_failed(name)

    # -- conversions -----------------------------------------------------------------------
    def to_lua(self, reply: Any) -> Any:
        """A command's reply as the Lua value Redis 7.0 gives a script (``self.resp``)."""
        t = type(reply)
        resp3 = self.resp == 3
        if t is bytes or t is str:
            return reply if t is bytes else reply.encode()
        if t is bool:
            return int(reply)
        if t is int:
            return reply
        if t is Status:
            return self._kv(ok=bytes(reply))
        if isinstance(reply, RedisError):
            return self._kv(err=reply.text)
        if reply is None or t is NullArray:
            return None if resp3 else False
        if t is Map:
            if resp3:
                inner = self._table()
                for k, v in reply:
                    inner[self.to_lua(k)] = self.to_lua(v)
                return self._kv(map=inner)
            flat = [x for pair in reply for x in pair]
            return self._array(flat)
        if t is SetReply and resp3:
            inner = self._table()
            for k in reply:
                inner[self.to_lua(k)] = True
            return self._kv(set=inner)
        if t in (list, tuple, SetReply, Push):
            return self._array(reply)
        if t is Double or t is float:
            return self._kv(double=float(reply)) if resp3 else format_double(reply)
        if t is BigBool:
            return reply.value if resp3 else int(reply.value)
        if t is Verbatim:
            if resp3:
                return self._kv(verbatim_string=self._kv(format=b"txt", string=bytes(reply)))
            return bytes(reply)
        if t is Raw:
            return self.to_lua(_parse_raw(bytes(reply)))
        if isinstance(reply, (bytes, bytearray, memoryview)):
            return bytes(reply)
        if isinstance(reply, int):
            return int(reply)
        raise TypeError(f"no Lua conversion for {t.__name__}")

    def _kv(self, **fields: Any) -> Any:
        return self.lua.table_from({k.encode(): v for k, v in fields.items()})

    def _array(self, items: Any) -> Any:
        table = self._table()
        for i, item in enumerate(items, 1):
            table[i] = self.to_lua(item)
        return table

    def to_reply(self, v: Any) -> Any:
        """A script's Lua result as the reply Redis 7.0 sends its caller."""
        lt = lua51.lua_type(v)
        if isinstance(v, bytes):
            return v
        if v is True or v is False:
            if self.resp == 2:
                return 1 if v else None
            return BigBool(v)
        if lt is None and isinstance(v, (int, float)):
            return _to_long_long(v)
        if lt != "table":
            return None
        rawget = self._rawget
        err = rawget(v, b"err")
        if isinstance(err, bytes):
            return RedisError(err)
        ok = rawget(v, b"ok")
        if isinstance(ok, bytes):
            return Status(ok.replace(b"\r", b" ").replace(b"\n", b" "))
        dbl = rawget(v, b"double")
        if isinstance(dbl, (int, float)) and not isinstance(dbl, bool):
            return Double(float(dbl))
        big = rawget(v, b"big_number")
        if isinstance(big, bytes):
            big = big.replace(b"\r", b" ").replace(b"\n", b" ")
            return Raw(b"(%b\r\n" % big) if self.caller_proto == 3 else big
        verb = rawget(v, b"verbatim_string")
        if lua51.lua_type(verb) == "table":
            fmt, text = rawget(verb, b"format"), rawget(verb, b"string")
            if isinstance(fmt, bytes) and isinstance(text, bytes):
                if self.caller_proto == 3:
                    return Raw(b"=%d\r\n%b:%b\r\n" % (len(text) + 4, fmt[:3], text))
                return text
        m = rawget(v, b"map")
        if lua51.lua_type(m) == "table":
            return Map([(self.to_reply(k), self.to_reply(x)) for k, x in m.items()])
        s = rawget(v, b"set")
        if lua51.lua_type(s) == "table":
            return SetReply([self.to_reply(k) for k in s.keys()])
        out = []
        i = 1
        while True:
            item = rawget(v, i)
            if item is None:
                break
            out.append(self.to_reply(item))
            i += 1
        return out


def _to_long_long(v: float) -> int:
    """C's (long long) cast of a Lua number: toward zero; out of range saturates like x86."""
    if v != v or v in (float("inf"), float("-inf")):
        return -(2**63)
    n = int(v)
    return n if -(2**63) <= n < 2**63 else -(2**63)


def _parse_raw(data: bytes) -> Any:
    """A pre-encoded reply (``resp.Raw``) as plain values, for the script."""
    parser = ReplyParser()
    parser.feed(data)
    _complete, value = parser.gets()
    return _unparse(value)


def _unparse(v: Any) -> Any:
    if isinstance(v, ErrorReply):
        return RedisError(str(v))
    if isinstance(v, ParsedStatus):
        return Status(str(v).encode())
    if isinstance(v, list):
        return [_unparse(x) for x in v]
    return v


def sha1hex(body: bytes) -> bytes:
    return hashlib.sha1(body).hexdigest().encode()


SHEBANG_FLAGS = {b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys"}


def parse_shebang(body: bytes) -> tuple[bytes, frozenset[bytes] | None]:
    """EVAL's ``#!lua flags=...`` first line: (body to compile, flags or None without
    a shebang). The shebang line becomes an empty line so line numbers stay."""
    if not body.startswith(b"#!"):
        return body, None
    end = body.find(b"\n")
    line = body if end < 0 else body[:end]
    parts = line.split()
    if parts[0] != b"#!lua":
        raise errors.script_error("shebang_engine", parts[0])
    flags: set[bytes] = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise errors.script_error("shebang_option", part)
        for flag in part[6:].split(b","):
            if flag and flag not in SHEBANG_FLAGS:
                raise errors.script_error("shebang_flag", flag)
            if flag:
                flags.add(flag)
    return (b"" if end < 0 else body[end:]), frozenset(flags)


__all__ = ["LuaVM", "Bridge", "sha1hex", "parse_shebang", "errors"]
