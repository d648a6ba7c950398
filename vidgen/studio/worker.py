"""A worker: claims jobs from the queue, runs the engine, writes the files, finishes the job.

The only studio process that imports torch. Files appear all at once: everything is written
to a temporary directory and renamed to `videos/<id>/`, then the job is finished, and only
the lease holder can finish it. A killed worker leaves at most a temporary directory, which
the next run of the job replaces. SIGTERM: stop claiming, finish the current job within the
grace period, or give it back to the queue.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from vidgen.studio.logs import log_event
from vidgen.studio.queue import open_queue

log = logging.getLogger("vidgen.worker")


class _Stop(Exception):
    """Raised from the progress callback to leave the denoising loop early."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # cancelled | lost | shutdown


def video_dir(data: Path, job_id: str) -> Path:
    return data / "videos" / job_id


def preview_path(data: Path, job_id: str) -> Path:
    return data / "previews" / f"{job_id}.jpg"


def _save_image(img: np.ndarray, path: Path, **kw) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    Image.fromarray(img).save(tmp, format=kw.pop("format"), **kw)
    os.replace(tmp, path)


def spritesheet(frames: np.ndarray, n: int = 16, cols: int = 4) -> np.ndarray:
    """Up to n frames spread over the clip, in a grid `cols` wide: uint8 (H', W', 3)."""
    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    picks = list(frames[idx])
    rows = -(-len(picks) // cols)
    picks += [np.zeros_like(picks[0])] * (rows * cols - len(picks))
    return np.concatenate(
        [np.concatenate(picks[r * cols : (r + 1) * cols], axis=1) for r in range(rows)], axis=0
    )


def fit_image(path: Path, width: int, height: int) -> np.ndarray:
    """An input image cropped to the video's aspect and resized: uint8 (1, H, W, 3)."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    scale = max(width / w, height / h)
    img = img.resize((max(width, round(w * scale)), max(height, round(h * scale))), Image.LANCZOS)
    left, top = (img.width - width) // 2, (img.height - height) // 2
    return np.asarray(img.crop((left, top, left + width, top + height)))[None]


class Worker:
    def __init__(
        self,
        data: str | Path,
        model: str = "default",
        redis_url: str | None = None,
        lease_s: float = 20.0,
        grace_s: float = 30.0,
        precision: str = "auto",
        compile: bool = False,
    ):
        self.data = Path(data)
        self.queue = open_queue(self.data, redis_url)
        self.model, self.precision, self.compile = model, precision, compile
        self.lease_s, self.grace_s = lease_s, grace_s
        self.id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.stopping_at: float | None = None
        self.engine = None

    def load(self) -> None:

        from vidgen.pipelines.pipeline import Engine
        from vidgen.pipelines.spec import Request

        t0 = time.perf_counter()
        self.engine = Engine.load(  # on the first GPU torch sees, else the CPU
            self.model, precision=self.precision, compile=self.compile, device="auto"
        )
        self.engine.text.encode([""])  # load the text encoder now, not in the first job
        if self.compile:  # compile for the API's default request now; other sizes when asked
            seconds = min(Request.seconds, self.engine.spec.max_seconds)
            self.engine.generate(Request("warm-up", seconds=seconds, steps=1))
        log_event(log, "worker.ready", worker=self.id, model=self.model,
                  load_s=round(time.perf_counter() - t0, 2))  # fmt: skip

    def stop(self, *_) -> None:
        if self.stopping_at is None:
            self.stopping_at = time.time()
            log_event(log, "worker.stopping", worker=self.id)

    def run(self, poll_s: float = 0.2, max_jobs: int | None = None) -> None:
        """Claim and run jobs until stopped (or after max_jobs)."""
        if self.engine is None:
            self.load()
        done = 0
        while self.stopping_at is None and (max_jobs is None or done < max_jobs):
            job = self.queue.claim(self.id, self.lease_s)
            if job is None:
                time.sleep(poll_s)
                continue
            self.process(job)
            done += 1
        self.queue.release_worker(self.id)

    # --- one job ----------------------------------------------------------------------------

    def process(self, job: dict) -> None:
        job_id = job["id"]
        log_event(log, "job.started", job=job_id, worker=self.id, attempt=job["attempts"])
        state = {"progress": 0, "flag": None, "beat": 0.0, "preview": 0.0}
        done = threading.Event()

        def beat(progress: int | None = None) -> None:
            cancel = self.queue.heartbeat(job_id, self.id, self.lease_s, progress)
            state["beat"] = time.time()
            if cancel is None:
                state["flag"] = "lost"
            elif cancel:
                state["flag"] = "cancelled"

        def keep_alive() -> None:
            while not done.wait(self.lease_s / 4):
                beat()

        def progress(step: int, total: int, preview) -> None:
            now = time.time()
            if self.stopping_at is not None and now > self.stopping_at + self.grace_s:
                raise _Stop("shutdown")
            if now - state["beat"] > 0.25 or step == total:
                beat(min(95, int(95 * step / total)))
            if state["flag"]:
                raise _Stop(state["flag"])
            if now - state["preview"] > 0.5:
                state["preview"] = now
                path = preview_path(self.data, job_id)
                path.parent.mkdir(parents=True, exist_ok=True)
                _save_image(preview(), path, format="JPEG", quality=85)

        thread = threading.Thread(target=keep_alive, daemon=True)
        thread.start()
        try:
            result = self.generate(job, progress)
            if not self.queue.finish(job_id, self.id, result, None):
                shutil.rmtree(video_dir(self.data, job_id), ignore_errors=True)
                log_event(log, "job.lost", job=job_id, worker=self.id)
            else:
                log_event(log, "job.completed", job=job_id, worker=self.id, **result["stages"])
        except _Stop as s:
            if s.reason == "cancelled":
                err = {"code": "cancelled", "message": "cancelled by the user"}
                self.queue.finish(job_id, self.id, None, err)
            elif s.reason == "shutdown":
                self.queue.requeue(job_id, self.id)
            log_event(log, f"job.{s.reason}", job=job_id, worker=self.id)
        except ValueError as e:  # the request does not fit this model
            self.queue.finish(job_id, self.id, None, {"code": "invalid_request", "message": str(e)})
            log_event(log, "job.failed", job=job_id, worker=self.id, error=str(e))
        except Exception as e:  # keep serving; the job records what went wrong
            log.exception("job %s failed", job_id)
            err = {"code": "generation_failed", "message": f"{type(e).__name__}: {e}"}
            self.queue.finish(job_id, self.id, None, err)
        finally:
            done.set()
            preview_path(self.data, job_id).unlink(missing_ok=True)

    def generate(self, job: dict, progress) -> dict:
        """Run the engine for a job and publish its files; returns the job's result."""
        from vidgen.io.provenance import finalize
        from vidgen.pipelines.conditioning import ConditioningItem
        from vidgen.pipelines.spec import Request

        p = job["params"]
        req = Request(**p["request"])
        if p.get("input_reference"):
            image = fit_image(self.data / p["input_reference"], req.width, req.height)
            req = Request(**{**p["request"], "conditioning": (ConditioningItem(image),)})
        out = self.engine.generate(req, progress=progress)
        recipe = {
            **out.recipe,
            "video_id": job["id"],
            "compile": self.compile,
        }
        t0 = time.perf_counter()
        target = video_dir(self.data, job["id"])
        for stale in target.parent.glob(f".tmp-{job['id']}-*"):  # from tries that died
            shutil.rmtree(stale, ignore_errors=True)
        tmp = target.with_name(f".tmp-{job['id']}-{self.id}")
        tmp.mkdir(parents=True)
        # the watermark carries this installation's id and a 16-bit id derived from the job's
        recipe["watermark"] = {"video": int(hashlib.sha256(job["id"].encode()).hexdigest()[:4], 16)}
        recipe = finalize(tmp / "video.mp4", out.frames, out.fps, recipe)  # mark, MP4, C2PA

        _save_image(out.frames[len(out.frames) // 2], tmp / "thumbnail.webp", format="WEBP")
        _save_image(spritesheet(out.frames), tmp / "spritesheet.jpg", format="JPEG", quality=85)
        if target.exists():  # an earlier try of this job got this far, then died
            shutil.rmtree(target)
        os.replace(tmp, target)
        stages = {**out.stages, "encode": time.perf_counter() - t0}
        return {
            "seconds": req.seconds,
            "frames": len(out.frames),
            "stages": {k: round(v, 4) for k, v in stages.items()},
            "recipe": recipe,
        }
