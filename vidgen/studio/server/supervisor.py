"""Worker processes that `vidgen serve --workers N` starts, restarts and stops."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from vidgen.studio.logs import log_event

log = logging.getLogger("vidgen.supervisor")
# Workers run below the API's CPU priority: a render is batch work, a request is someone
# waiting. (Set right after the spawn, while the child is still one thread: later threads
# inherit it.)
WORKER_NICE = 10


class Supervisor:
    """Keeps N workers alive; a worker that dies has its job requeued at once."""

    def __init__(self, settings, queue):
        self.settings, self.queue = settings, queue
        self.procs: dict[str, subprocess.Popen] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._n = 0

    def _spawn(self) -> None:
        self._n += 1
        worker_id = f"{socket.gethostname()}-{os.getpid()}-w{self._n}"
        s = self.settings
        cmd = [sys.executable, "-m", "vidgen.studio.cli", "worker", "--data", str(s.data),
               "--model", s.model, "--id", worker_id, "--precision", s.worker_precision,
               "--grace", str(s.grace_s), "--lease", str(s.lease_s)]  # fmt: skip
        if s.redis:
            cmd += ["--redis", s.redis]
        if s.worker_compile:
            cmd += ["--compile"]
        env = dict(os.environ)  # N workers share the cores instead of each taking them all
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // s.workers)))
        proc = self.procs[worker_id] = subprocess.Popen(cmd, env=env)
        os.setpriority(os.PRIO_PROCESS, proc.pid, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE)
        log_event(log, "worker.spawned", worker=worker_id, pid=proc.pid)

    def start(self) -> None:
        for _ in range(self.settings.workers):
            self._spawn()
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for worker_id, proc in list(self.procs.items()):
                if proc.poll() is not None and not self._stop.is_set():
                    log_event(log, "worker.died", worker=worker_id, code=proc.returncode)
                    del self.procs[worker_id]
                    self.queue.release_worker(worker_id)
                    self._spawn()

    def stop(self) -> None:
        """SIGTERM every worker: each finishes (or gives back) its job within the grace time."""
        self._stop.set()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.time() + self.settings.grace_s + 10
        for worker_id, proc in self.procs.items():
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.queue.release_worker(worker_id)
        log_event(log, "workers.stopped", n=len(self.procs))
