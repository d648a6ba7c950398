"""Redis mode: the server queues through a real redis-server; two workers share the queue."""

import subprocess
import sys

import httpx

from tests.studio.conftest import Server
from vidgen.studio.queue import RedisQueue


def test_two_workers_share_one_redis_queue(tmp_path, tiny_model, redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    server = Server(tmp_path / "data", tiny_model, workers=0, redis=redis_url).start()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "vidgen.studio.cli", "worker", "--data", str(server.data),
             "--redis", redis_url, "--model", str(tiny_model), "--id", f"remote-{i}",
             "--precision", "float32"],
            stderr=open(tmp_path / f"worker{i}.log", "w"),
        )
        for i in range(2)
    ]  # fmt: skip
    try:
        ids = []
        for i in range(6):
            body = {"prompt": f"a ball {i}", "size": "32x32", "seconds": 1, "steps": 40}
            r = httpx.post(server.url + "/v1/videos", headers=server.headers(), json=body)
            ids.append(r.json()["id"])
        jobs = [server.wait(v, timeout=300) for v in ids]
        assert all(j["status"] == "completed" for j in jobs), jobs
        store = RedisQueue(redis_url)
        ran_on = {store.get(v)["worker"] for v in ids}
        assert ran_on == {"remote-0", "remote-1"}  # both workers took jobs
        for v in ids:
            r = httpx.get(f"{server.url}/v1/videos/{v}/content", headers=server.headers())
            assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    finally:
        for w in workers:
            w.terminate()
            w.wait(60)
        server.stop()
