"""Every error the engine sends, as data: the one home of the engine's wire texts.

``RedisError`` carries the exact wire text (without the leading ``-`` and the
trailing CRLF). Every text is a constant or a small formatter in this package, so
that the engine matches Redis 7.0 byte for byte in one place; callers use
``errors.NAME`` and never write a text themselves (tests/engine/test_one_home.py).

The package is split by what sends the error, one module each: ``base`` (the
types), ``core`` (protocol, dispatcher, replication, durable shards, cluster),
``families`` (data-type families, clients and administration, ACL, the journal
port) and ``scripting`` (geo, EVAL/FUNCTION and the Lua runtime). A new text goes
beside its kin.
"""

from __future__ import annotations

from .base import ProtocolError, RedisError, _err  # noqa: F401
from .core import *  # noqa: F401,F403
from .families import *  # noqa: F401,F403
from .scripting import *  # noqa: F401,F403
