"""Errors of geo commands and of scripting: EVAL, SCRIPT, FUNCTION, FCALL, what
redis.call answers inside a script and the Lua runtime's own refusals.
"""

from __future__ import annotations

from .base import ProtocolError, RedisError, _err

# Geo (GEOADD, GEODIST, GEORADIUS*, GEOSEARCH*)
GEO_NO_MEMBER = _err("ERR could not decode requested zset member")
GEO_BAD_UNIT = _err("ERR unsupported unit provided. please use M, KM, FT, MI")
GEO_NEED_RADIUS = _err("ERR need numeric radius")
GEO_NEED_WIDTH = _err("ERR need numeric width")
GEO_NEED_HEIGHT = _err("ERR need numeric height")
GEO_RADIUS_NEGATIVE = _err("ERR radius cannot be negative")
GEO_BOX_NEGATIVE = _err("ERR height or width cannot be negative")
GEO_COUNT_POSITIVE = _err("ERR COUNT must be > 0")
GEO_ANY_NEEDS_COUNT = _err("ERR the ANY argument requires COUNT argument")


def geo_invalid_lonlat(lon: float, lat: float) -> RedisError:
    return RedisError("ERR invalid longitude,latitude pair %f,%f" % (lon, lat))


def geo_store_with_options(what: str) -> RedisError:
    return RedisError(f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")


def geo_exactly_one(options: str, name: bytes) -> RedisError:
    """``name``: the command as the client spelled it."""
    return RedisError(b"ERR exactly one of %b can be specified for %b" % (options.encode(), name))


# Scripting (EVAL, SCRIPT, FUNCTION, FCALL) and what redis.call answers inside a script
NOSCRIPT = _err("NOSCRIPT No matching script. Please use EVAL.")
NEGATIVE_KEYS = _err("ERR Number of keys can't be negative")
TOO_MANY_KEYS = _err("ERR Number of keys can't be greater than number of args")
BUSY_SCRIPT = _err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
BUSY_FUNCTION = _err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
NOTBUSY = _err("NOTBUSY No scripts in execution right now.")
UNKILLABLE = _err(
    "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait "
    "the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
)
SCRIPT_FLUSH_MODE = _err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
SCRIPT_UNKNOWN_COMMAND = _err("ERR Unknown Redis command called from script")
SCRIPT_WRONG_ARGS = _err("ERR Wrong number of args calling Redis command from script")
SCRIPT_NOT_ALLOWED = _err("ERR This Redis command is not allowed from script")
SCRIPT_WRITE_IN_READONLY = _err("ERR Write commands are not allowed from read-only scripts.")
SCRIPT_NON_LOCAL_KEY = _err("ERR Script attempted to access a non local key in a cluster node")
SCRIPT_CLUSTER_DOWN = _err("ERR Script attempted to execute a command while the cluster is down")
SCRIPT_CROSS_SLOT = _err("ERR Script attempted to access keys that do not hash to the same slot")
# redis.call refused by ACL, by the reason's number (acl.DENIED_CMD 1, DENIED_KEY 2, DENIED_CHANNEL 4).
SCRIPT_ACL_DENIALS = {
    1: _err("ERR The user executing the script can't run this command or subcommand"),
    2: _err("ERR The user executing the script can't access at least one of the keys mentioned in the "
            "command arguments"),
    4: _err("ERR The user executing the script can't publish to the channel mentioned in the command"),
}
FUNCTION_NOT_FOUND = _err("ERR Function not found")
FUNCTION_LIBRARY_NOT_FOUND = _err("ERR Library not found")
FUNCTION_NO_WRITES = _err("ERR Can not execute a script with write flag using *_ro command.")
FUNCTION_LIBRARY_NAME = _err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
                             "least one character long")
FUNCTION_RESTORE_POLICY = _err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
FUNCTION_RESTORE_NOT_A_FUNCTION = _err("ERR given type is not a function")
FUNCTION_RESTORE_NO_TYPE = _err("ERR can not read data type")
FUNCTION_RESTORE_NO_PAYLOAD = _err("ERR Failed loading library payload")
# FUNCTION RESTORE of Redis 7.0 rc1/rc2's library record (name, engine, description, code), by the field that failed.
FUNCTION_RESTORE_PRE_GA = {
    "name": _err("ERR Failed loading library name"),
    "engine": _err("ERR Failed loading engine name"),
    "description": _err("ERR Failed loading library description"),
    "blob": _err("ERR Failed loading library blob"),
}


# The Lua runtime's own refusals (EVAL's shebang, FUNCTION LOAD, redis.* calls), in Redis 7.0's words.
SCRIPT_LIB_NO_ARGS = _err("ERR Please specify at least one argument for this redis lib call")
SCRIPT_LIB_BAD_ARG = _err("ERR Lua redis lib command arguments must be strings or integers")
SCRIPT_RESP_VERSION = _err("ERR RESP version must be 2 or 3.")
SCRIPT_NO_CLUSTER = _err("ERR Can not run script on cluster, 'no-cluster' flag is set.")
FUNCTION_FLUSH_MODE = _err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
FUNCTION_NO_FUNCTIONS = _err("ERR No functions registered")
FUNCTION_NO_METADATA = _err("ERR Missing library metadata")
FUNCTION_NO_LIBRARY_NAME = _err("ERR Library name was not given")
FUNCTION_REGISTER_ARITY = _err("ERR wrong number of arguments to redis.register_function")
FUNCTION_REGISTER_ARGS = _err("ERR wrong arguments to redis.register_function")
# Errors Redis words as a fixed text followed by a detail (a name, a flag, Lua's own message).
_SCRIPT_DETAIL = {
    "compile_script": b"ERR Error compiling script (new function): ",
    "shebang_engine": b"ERR Unexpected engine in script shebang: ",
    "shebang_option": b"ERR Unknown lua shebang option: ",
    "shebang_flag": b"ERR Unexpected flag in script shebang: ",
    "compile_function": b"ERR Error compiling function: ",
    "register": b"ERR Error registering functions: ",
    "unknown_flag": b"ERR Unknown flag given: ",
    "metadata": b"ERR Invalid metadata value given: ",
    "list_argument": b"ERR Unknown argument ",
}


GENERIC_PREFIX = b"ERR "  # a Lua error raised as a plain string takes this code, as in Redis
WRONG_ARITY_PREFIX = b"ERR wrong number of arguments"


def script_error(kind: str, detail: bytes) -> RedisError:
    return RedisError(_SCRIPT_DETAIL[kind] + detail)


def script_run_failed(name: bytes) -> RedisError:
    return RedisError(b"ERR Error running script (call to %b): unknown error" % name)


def function_library_exists(name: bytes) -> RedisError:
    """FUNCTION LOAD without REPLACE meeting a library it has."""
    return RedisError(b"ERR Library '%b' already exists" % name)


def function_engine_not_found(engine: bytes) -> RedisError:
    return RedisError(b"ERR Engine '%b' not found" % engine)


def function_restore_library_exists(name: bytes) -> RedisError:
    """FUNCTION RESTORE APPEND meeting a library it has (no quotes, unlike FUNCTION LOAD's)."""
    return RedisError(b"ERR Library %b already exists" % name)


def function_exists(name: bytes) -> RedisError:
    return RedisError(b"ERR Function %b already exists" % name)
