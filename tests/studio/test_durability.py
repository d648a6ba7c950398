"""Jobs survive killed workers and restarted servers: each completes once, every MP4 decodes."""

import os
import signal
import time

import httpx
import pytest

from tests.studio.conftest import Server
from vidgen.io.video import read_video

SLOW = {"size": "256x256", "seconds": 1, "steps": 120}  # a few seconds per job


def submit(server, n, **extra) -> list[str]:
    ids = []
    for i in range(n):
        body = {"prompt": f"a red ball {i}", **SLOW, **extra}
        r = httpx.post(server.url + "/v1/videos", headers=server.headers(), json=body)
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    return ids


def check_all_done_once(server, ids):
    for vid in ids:
        v = server.wait(vid, timeout=300)
        assert v["status"] == "completed", v
        r = httpx.get(f"{server.url}/v1/videos/{vid}/content", headers=server.headers())
        path = server.data / f"{vid}.check.mp4"
        path.write_bytes(r.content)
        frames, _ = read_video(path)
        assert frames.shape == (25, 256, 256, 3)
    listed = httpx.get(server.url + "/v1/videos?limit=100", headers=server.headers()).json()
    assert sorted(v["id"] for v in listed["data"]) == sorted(ids)  # no duplicates, none lost
    assert sorted(p.name for p in (server.data / "videos").iterdir()) == sorted(ids)  # no temp


def kill_workers_mid_job(server, kills: int) -> int:
    """SIGKILL the worker while a job renders, `kills` times; returns the kills made."""
    done = 0
    deadline = time.time() + 60 * kills
    while done < kills and time.time() < deadline:
        listed = httpx.get(server.url + "/v1/videos?limit=100", headers=server.headers()).json()
        running = [v for v in listed["data"] if v["status"] == "in_progress" and v["progress"] > 0]
        pids = server.workers_pids()
        if running and pids:
            os.kill(pids[0], signal.SIGKILL)
            done += 1
            while pids[0] in server.workers_pids():  # wait for the supervisor to replace it
                time.sleep(0.05)
        time.sleep(0.05)
    return done


def _kill_test(tmp_path, tiny_model, kills, jobs):
    server = Server(tmp_path / "data", tiny_model, lease_s=3).start()
    try:
        ids = submit(server, jobs)
        assert kill_workers_mid_job(server, kills) == kills
        check_all_done_once(server, ids)
        attempts = [server.wait(v)["attempts"] for v in ids]
        assert sum(attempts) >= jobs + kills  # every kill cost a try, and the job still ran
    finally:
        server.stop()


def test_sigkill_worker_mid_job(tmp_path, tiny_model):
    _kill_test(tmp_path, tiny_model, kills=3, jobs=5)


@pytest.mark.slow
def test_sigkill_worker_mid_job_20_times(tmp_path, tiny_model):
    _kill_test(tmp_path, tiny_model, kills=20, jobs=22)


def test_server_restart_loses_nothing(tmp_path, tiny_model):
    server = Server(tmp_path / "data", tiny_model, lease_s=3, grace_s=1).start()
    try:
        ids = submit(server, 4)
        server.stop()  # graceful: the running job finishes or goes back to the queue
        server.start()
        ids += submit(server, 1)
        server.stop(signal.SIGKILL)  # and a hard crash of the server and its workers
        server.start()
        check_all_done_once(server, ids)
    finally:
        server.stop()
