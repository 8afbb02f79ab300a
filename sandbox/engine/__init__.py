"""The bundled MemoryDB-like engine.

A plain Python package: it imports nothing from Django or Channels and reads no
environment variables (its callers build an ``EngineConfig``). Run it alone with
``python -m sandbox.engine server --port 0``.
"""

__version__ = "0.1.0"
# The Redis version the wire behaviour is modelled on (INFO, HELLO, redis-cli checks).
REDIS_COMPAT_VERSION = "7.0.15"
