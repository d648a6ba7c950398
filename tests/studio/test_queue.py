"""The job queue's guarantees, the same for SQLite and Redis."""

import time

import pytest

from vidgen.studio import queue as q
from vidgen.studio.queue import RedisQueue, SQLiteQueue, new_job


@pytest.fixture(params=["sqlite", "redis"])
def jobs(request, tmp_path):
    if request.param == "sqlite":
        return SQLiteQueue(tmp_path / "jobs.db")
    store = RedisQueue(request.getfixturevalue("redis_url"))
    store.r.flushdb()
    return store


def job(owner="k1", priority=5, seconds=1.0):
    return new_job(owner, {"request": {"prompt": "p"}}, seconds, priority)


def test_claim_takes_priority_then_age(jobs):
    a, b, c = job(), job(priority=9), job()
    for j in (a, b, c):
        jobs.submit(j)
        time.sleep(0.002)
    order = [jobs.claim("w", 30)["id"] for _ in range(3)]
    assert order == [b["id"], a["id"], c["id"]]
    assert jobs.claim("w", 30) is None
    assert jobs.counts() == {"queued": 0, "in_progress": 3, "completed": 0, "failed": 0}


def test_only_the_lease_holder_finishes(jobs):
    j = jobs.submit(job())
    got = jobs.claim("w1", 30)
    assert got["status"] == "in_progress" and got["worker"] == "w1" and got["attempts"] == 1
    assert jobs.heartbeat(j["id"], "w2", 30, 50) is None  # not w2's job
    assert jobs.heartbeat(j["id"], "w1", 30, 50) is False  # renewed, not cancelled
    assert jobs.get(j["id"])["progress"] == 50
    assert not jobs.finish(j["id"], "w2", {"seconds": 1.0, "stages": {}}, None)
    assert jobs.finish(j["id"], "w1", {"seconds": 1.0, "stages": {"denoise": 0.5}}, None)
    done = jobs.get(j["id"])
    assert done["status"] == "completed" and done["progress"] == 100
    assert done["result"]["stages"] == {"denoise": 0.5}
    assert not jobs.finish(j["id"], "w1", {"seconds": 1.0}, None)  # once
    assert jobs.stats()["stage_denoise"] == (1, 0.5)
    assert jobs.stats()["video_seconds"] == (1, 1.0)


def test_expired_lease_goes_back_and_the_old_worker_cannot_finish(jobs):
    j = jobs.submit(job())
    jobs.claim("dead", 0.05)
    time.sleep(0.1)
    again = jobs.claim("alive", 30)
    assert again["id"] == j["id"] and again["attempts"] == 2 and again["worker"] == "alive"
    assert not jobs.finish(j["id"], "dead", {"seconds": 1.0}, None)
    assert jobs.finish(j["id"], "alive", {"seconds": 1.0}, None)


def test_release_worker_requeues_at_once(jobs):
    j = jobs.submit(job())
    jobs.claim("w1", 300)
    jobs.release_worker("w1")
    assert jobs.claim("w2", 30)["id"] == j["id"]


def test_a_job_that_keeps_killing_workers_fails(jobs, monkeypatch):
    monkeypatch.setattr(q, "MAX_ATTEMPTS", 3)
    j = jobs.submit(job())
    for i in range(3):
        assert jobs.claim(f"w{i}", 300)["id"] == j["id"]
        jobs.release_worker(f"w{i}")
    assert jobs.claim("w9", 30) is None
    failed = jobs.get(j["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "worker_lost"


def test_cancel(jobs):
    queued, running = jobs.submit(job()), jobs.submit(job())
    jobs.claim("w", 30)  # takes `queued` (older)
    jobs.cancel(running["id"])
    assert jobs.get(running["id"])["status"] == "failed"
    assert jobs.get(running["id"])["error"]["code"] == "cancelled"
    jobs.cancel(queued["id"])
    assert jobs.heartbeat(queued["id"], "w", 30) is True  # the worker is told to stop


def test_requeue_does_not_count_a_try(jobs):
    j = jobs.submit(job())
    jobs.claim("w", 30)
    jobs.requeue(j["id"], "w")
    assert jobs.get(j["id"])["status"] == "queued"
    assert jobs.claim("w", 30)["attempts"] == 1


def test_list_pages_by_owner_and_delete(jobs):
    mine = []
    for _ in range(5):
        mine.append(jobs.submit(job("me"))["id"])
        time.sleep(0.002)
    jobs.submit(job("other"))
    page, more = jobs.list("me", None, 2, "desc")
    assert [j["id"] for j in page] == mine[::-1][:2] and more
    page, more = jobs.list("me", page[-1]["id"], 10, "desc")
    assert [j["id"] for j in page] == mine[::-1][2:] and not more
    page, _ = jobs.list("me", None, 10, "asc")
    assert [j["id"] for j in page] == mine
    with pytest.raises(KeyError):
        jobs.list("other", mine[0], 10, "asc")  # a cursor from someone else's list
    jobs.delete(mine[0])
    assert jobs.get(mine[0]) is None
    assert len(jobs.list("me", None, 10, "asc")[0]) == 4
