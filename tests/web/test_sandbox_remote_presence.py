"""Presence shared by several workers through a real redis-server (``RedisPresence``):
what one worker's socket reports, another worker's dashboard sees; a socket that
stops its heartbeats (its worker died) stops counting after the TTL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from teach.presence import RedisPresence
from tests.engine.servers import redis_process


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_process() as server:
        yield f"redis://127.0.0.1:{server.port}/0"


def test_a_learner_seen_by_one_worker_is_present_on_another(redis_url: str) -> None:
    worker_a, worker_b = RedisPresence(redis_url, "t1", ttl=45), RedisPresence(redis_url, "t1", ttl=45)
    worker_a.seen(7, "sock-a", "/lessons/failover/", 1000.0)
    worker_a.seen(8, "sock-x", "/quizzes/", 1000.0)
    assert worker_b.present([7, 8, 9], 1010.0) == {7: "/lessons/failover/", 8: "/quizzes/"}
    worker_b.seen(7, "sock-b", "/sandbox/", 1020.0)  # a second page, on the other worker
    assert worker_a.present([7], 1021.0) == {7: "/sandbox/"}, "the page seen most recently"
    worker_b.gone(7, "sock-b")
    worker_a.gone(8, "sock-x")
    assert worker_a.present([7, 8], 1022.0) == {7: "/lessons/failover/"}


def test_a_socket_whose_worker_died_stops_counting_after_the_ttl(redis_url: str) -> None:
    survivor, dead = RedisPresence(redis_url, "t2", ttl=45), RedisPresence(redis_url, "t2", ttl=45)
    dead.seen(7, "sock-dead", "/old/", 1000.0)
    survivor.seen(7, "sock-live", "/sandbox/", 1040.0)
    assert survivor.present([7], 1050.0) == {7: "/sandbox/"}, "the dead socket's older path is not shown"
    assert survivor.present([7], 1086.0) == {}, "no heartbeat for more than 45 s: gone"
    # And the key itself expires in Redis, so nothing of a finished class stays behind.
    short = RedisPresence(redis_url, "t3", ttl=0.3)
    short.seen(5, "s", "/", time.time())
    assert redis.Redis.from_url(redis_url).exists("t3:presence:5")
    time.sleep(0.6)
    assert not redis.Redis.from_url(redis_url).exists("t3:presence:5")


def test_presence_without_redis_answers_nobody_instead_of_failing_the_socket() -> None:
    nowhere = RedisPresence("redis://127.0.0.1:1/0", "t4")
    nowhere.seen(1, "s", "/", 0.0)  # raises nothing: a lost heartbeat, not a closed page
    nowhere.gone(1, "s")
    assert nowhere.present([1], 0.0) == {}
