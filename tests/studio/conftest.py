"""A real `vidgen serve` (uvicorn, SQLite queue, worker processes) on a free port."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.helpers import free_port, make_tiny_model


class Server:
    """`vidgen serve` in a subprocess; `start()` again after `stop()` keeps the data."""

    def __init__(self, data, model, workers=1, redis=None, args: tuple[str, ...] = (), **env):
        self.data, self.model, self.workers, self.redis = data, model, workers, redis
        self.args = list(args)  # more `vidgen serve` flags
        self.env = {**os.environ, **{f"VIDGEN_{k.upper()}": str(v) for k, v in env.items()}}
        self.env["OMP_NUM_THREADS"] = "1"  # a server and its workers share the 2 cores
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.key = None

    def start(self) -> "Server":
        cmd = [sys.executable, "-m", "vidgen.studio.cli", "serve", "--port", str(self.port),
               "--data", str(self.data), "--model", str(self.model),
               "--workers", str(self.workers), "--precision", "float32"]  # fmt: skip
        if self.redis:
            cmd += ["--redis", self.redis]
        cmd += self.args
        self.log = open(self.data.parent / f"serve-{self.port}.log", "a")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self.log, text=True, env=self.env
        )
        if self.key is None:
            line = self.proc.stdout.readline()
            self.key = re.search(r"vg-\S+", line).group(0)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def workers_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self, sig=signal.SIGTERM) -> None:
        workers = self.workers_pids() if self.proc else []  # orphans once the server is gone
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def headers(self, key: str | None = None) -> dict:
        return {"Authorization": f"Bearer {key or self.key}"}

    def wait(self, video_id: str, key: str | None = None, timeout: float = 120) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = httpx.get(f"{self.url}/v1/videos/{video_id}", headers=self.headers(key)).json()
            if v["status"] in ("completed", "failed"):
                return v
            time.sleep(0.1)
        raise TimeoutError(video_id)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model):
    s = Server(tmp_path_factory.mktemp("serve") / "data", tiny_model).start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free port (the Debian package; .ci/run installs it)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(d)],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait()
