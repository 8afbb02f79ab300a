"""Function libraries in snapshots: a snapshot carries them (format 3), a restore
brings them back, and a durable cluster whose journal was trimmed behind a snapshot
still has its libraries after a restart or a failover."""

from __future__ import annotations

import asyncio
from pathlib import Path


from sandbox.engine import snapshot

from .test_snapshot_format import apply, new_server, sample_server, write_snapshot
from .test_snapshots import durable_cluster, primary, snapshot_now, trim_applied_everywhere, wait_event, write

_LIBRARY = ("#!lua name=kept\n"
            "redis.register_function('kept_set', function(keys, args) return redis.call('SET', keys[1], args[1]) end)\n"
            "redis.register_function{function_name='kept_get', callback=function(keys) "
            "return redis.call('GET', keys[1]) end, flags={'no-writes'}}")


def test_a_snapshot_carries_the_function_libraries_and_a_restore_brings_them_back(tmp_path: Path) -> None:
    original = sample_server()
    apply(original, ["FUNCTION", "LOAD", _LIBRARY])
    path = write_snapshot(tmp_path, original)
    assert snapshot.read(path).meta.format == 3
    restored = new_server()
    snapshot.load(path, restored)
    libraries = restored.scripts.functions.libraries
    assert list(libraries) == [b"kept"] and libraries[b"kept"].code == _LIBRARY.encode()
    assert set(restored.scripts.functions.functions) == {b"kept_set", b"kept_get"}
    assert restored.scripts.functions.functions[b"kept_get"].flags == {b"no-writes"}
    assert snapshot.dataset_digest(restored) == snapshot.dataset_digest(original)


def test_the_digest_counts_libraries_so_a_snapshot_missing_one_is_refused(tmp_path: Path) -> None:
    plain, with_library = sample_server(), sample_server()
    apply(with_library, ["FUNCTION", "LOAD", _LIBRARY])
    assert snapshot.dataset_digest(plain) != snapshot.dataset_digest(with_library)
    # A loaded snapshot replaces the libraries a server had, as it replaces its keys.
    path = write_snapshot(tmp_path, plain)
    snapshot.load(path, with_library)
    assert with_library.scripts.functions.libraries == {}


def test_a_format_2_snapshot_without_libraries_still_loads(tmp_path: Path) -> None:
    server = sample_server()
    meta = snapshot.SnapshotMeta(2, 0, 7, 1, 1, snapshot.key_count(server), "test", snapshot.dataset_digest(server))
    path = str(tmp_path / snapshot.snapshot_name(7, 1))
    snapshot.write(path, meta, snapshot.dump(server))
    restored = new_server()
    assert snapshot.load(path, restored).meta.format == 2
    assert snapshot.dataset_digest(restored) == snapshot.dataset_digest(server)


def test_a_library_outlives_a_journal_trim_through_a_restart_and_a_failover(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with durable_cluster(tmp_path) as sup:
            client = await primary(sup)
            assert client.function_load(_LIBRARY) == b"kept"
            write(client, "a", 20)
            first = await snapshot_now(sup)
            write(client, "b", 20)
            mark = len(sup.history)
            await snapshot_now(sup)
            await wait_event(sup, "trimmed", 10, since=mark, upto=first["upto"])
            await trim_applied_everywhere(sup)  # the FUNCTION LOAD entry is gone from the journal
            client.close()
        # Every node of the new run starts from a snapshot: the journal no longer has the library.
        async with durable_cluster(tmp_path) as sup:
            client = await primary(sup)
            assert client.fcall("kept_set", 1, "k", "v1") == b"OK"
            assert client.fcall_ro("kept_get", 1, "k") == b"v1"
            client.close()
            victim = sup.primary_of(0)
            assert victim is not None
            mark = len(sup.history)
            await sup.kill(victim.id)
            await wait_event(sup, "failover_finished", 20, since=mark, shard=0)
            client = await primary(sup)
            assert client.fcall("kept_set", 1, "k", "v2") == b"OK"
            assert client.get("k") == b"v2"
            client.close()

    asyncio.run(asyncio.wait_for(scenario(), 150))
