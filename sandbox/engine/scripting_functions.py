"""Redis 7.0 Functions: libraries of Lua functions loaded with FUNCTION LOAD.

Invariants:
* The libraries live in their own Lua state (``LuaVM``), apart from EVAL's, as in
  Redis. A library's code runs once at load time with a restricted ``redis`` table
  (``register_function``, ``log``, the constants); the functions it registers see the
  full API when FCALL runs them.
* A library is data: its code is all that is kept (``Library.code``), so the log,
  replicas and snapshots carry a library as its FUNCTION LOAD text.
* A failed load changes nothing: the new library replaces the old one only once
  every function registered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lupa import lua51

from . import errors
from .errors import RedisError
from .scripting import SHEBANG_FLAGS, LuaVM

_LOADER = r"""
local env, G = ...
local loading = {api = nil}
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local lib_env = setmetatable({}, {
  __index = function(_, k)
    if k == 'redis' and loading.api then return loading.api end
    local v = G[k]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    if k == '_G' then return env end
    return v
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})
local function compile(code)
  local f, e = loadstring(code, '@user_function')
  if not f then return nil, e end
  setfenv(f, lib_env)
  return f, false
end
local function load(f, register)
  local api = setmetatable({register_function = register, log = G.redis.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = G.redis.REDIS_VERSION, REDIS_VERSION_NUM = G.redis.REDIS_VERSION_NUM}, {__index = missing})
  loading.api = api
  local ok, e = pcall(f)
  loading.api = nil
  return ok, e
end
return compile, load
"""


@dataclass
class Function:
    name: bytes
    fn: Any
    flags: frozenset[bytes]
    description: bytes | None


@dataclass
class Library:
    name: bytes
    code: bytes
    functions: dict[bytes, Function] = field(default_factory=dict)


class FunctionStore:
    """The node's function libraries and the Lua state they run in."""

    def __init__(self) -> None:
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}
        self.vm = LuaVM()
        chunk = self.vm.lua.eval("loadstring")(_LOADER.encode(), b"=redis_internal")
        self._compile, self._load = chunk(self.vm.env, self.vm.globals)

    def flush(self) -> None:
        self.__init__()  # type: ignore[misc]  # a fresh Lua state, as FUNCTION FLUSH gives

    def load(self, code: bytes, replace: bool) -> bytes:
        """FUNCTION LOAD: the library's name, or RedisError."""
        name = _library_name(code)
        old = self.libraries.get(name)
        if old is not None and not replace:
            raise errors.function_library_exists(name)
        lib = Library(name, code)
        body = code[code.find(b"\n"):] if b"\n" in code else b""
        fn, err = self._compile(body)
        if fn is None or fn is False:
            raise errors.script_error("compile_function", err)
        problems: list[RedisError] = []

        def register(*args: Any) -> None:
            problems.extend(self._register(lib, args, old))

        ok, err = self._load(fn, register)
        if not ok:
            raise errors.script_error("register", _message(err))
        if problems:
            raise problems[0]
        if not lib.functions:
            raise errors.FUNCTION_NO_FUNCTIONS
        if old is not None:
            for fname in old.functions:
                self.functions.pop(fname, None)
        self.libraries[name] = lib
        self.functions.update(lib.functions)
        return name

    def restore(self, codes: list[bytes], policy: bytes) -> "FunctionStore":
        """FUNCTION RESTORE of libraries with these codes: the store to use from now on
        (a new one for FLUSH, else this one joined with them), or RedisError with
        nothing changed. As in Redis, the payload's libraries are first loaded on
        their own (a duplicate inside it fails), then joined: APPEND refuses a library
        name this store has, REPLACE drops that library first; either refuses a
        function name another library here still has."""
        staged = FunctionStore()
        for code in codes:
            staged.load(code, replace=False)
        if policy == b"flush":
            return staged
        replaced = [name for name in staged.libraries if name in self.libraries]
        if replaced and policy != b"replace":
            raise errors.function_restore_library_exists(replaced[0])
        dropped = {fname for name in replaced for fname in self.libraries[name].functions}
        for fname in staged.functions:
            if fname in self.functions and fname not in dropped:
                raise errors.function_exists(fname)
        for name in replaced:
            for fname in self.libraries.pop(name).functions:
                self.functions.pop(fname, None)
        for code in codes:  # compiled again in this store's Lua state; the checks above leave nothing to refuse
            self.load(code, replace=False)
        return self

    def _register(self, lib: Library, args: tuple[Any, ...], old: Library | None) -> list[RedisError]:
        flags: frozenset[bytes] = frozenset()
        description = None
        if len(args) == 1 and lua51.lua_type(args[0]) == "table":
            t = args[0]
            name, callback, raw_flags, description = (t[b"function_name"], t[b"callback"], t[b"flags"],
                                                      t[b"description"])
            if lua51.lua_type(raw_flags) == "table":
                flags = frozenset(raw_flags.values())
                unknown = [f for f in flags if f not in SHEBANG_FLAGS]
                if unknown:
                    return [errors.script_error("unknown_flag", unknown[0])]
        elif len(args) == 2:
            name, callback = args
        else:
            return [errors.FUNCTION_REGISTER_ARITY]
        if not isinstance(name, bytes) or lua51.lua_type(callback) != "function":
            return [errors.FUNCTION_REGISTER_ARGS]
        taken = self.functions.get(name)
        if name in lib.functions or (taken is not None and (old is None or name not in old.functions)):
            return [errors.function_exists(name)]
        lib.functions[name] = Function(name, callback, flags, description)
        return []


def _library_name(code: bytes) -> bytes:
    if not code.startswith(b"#!"):
        raise errors.FUNCTION_NO_METADATA
    line = code.split(b"\n", 1)[0]
    parts = line[2:].split()
    name = None
    for part in parts[1:]:
        if part.startswith(b"name="):
            name = part[5:]
        else:
            raise errors.script_error("metadata", part)
    if not name:
        raise errors.FUNCTION_NO_LIBRARY_NAME
    if not _LIBRARY_NAME.fullmatch(name):
        raise errors.FUNCTION_LIBRARY_NAME
    # Redis looks engines up ignoring case: a 7.0-rc library restored comes back as '#!LUA'.
    if not parts or parts[0].lower() != b"lua":
        raise errors.function_engine_not_found(parts[0] if parts else b"")
    return name


_LIBRARY_NAME = re.compile(rb"[A-Za-z0-9_]+")


def _message(err: Any) -> bytes:
    if lua51.lua_type(err) == "table":
        msg = err[b"err"]
        return msg if isinstance(msg, bytes) else b"unknown error"
    return errors.GENERIC_PREFIX + (err if isinstance(err, bytes) else str(err).encode())
