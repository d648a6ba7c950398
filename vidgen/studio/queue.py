"""The durable job queue: SQLite (WAL) embedded, or Redis for workers on many machines.

A job is a dict (see `new_job`). Its life: queued -> in_progress (a worker holds a lease and
renews it by heartbeat) -> completed | failed. A worker that dies stops renewing; the next
`claim` puts its job back in the queue (`attempts` counts the tries), and the supervisor that
saw it die can requeue at once (`release_worker`). Only the lease holder can finish a job, so
a job that two workers ran (one presumed dead) completes once. Both stores pass the same tests.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from vidgen.studio.db import LocalSQLite, transaction

STATES = ("queued", "in_progress", "completed", "failed")
MAX_ATTEMPTS = 25  # a job that kills its worker this many times fails instead of looping


def new_job(owner: str, params: dict, seconds: float, priority: int = 5) -> dict:
    now = time.time()
    return {
        "id": "video_" + secrets.token_hex(12),
        "owner": owner,
        "status": "queued",
        "progress": 0,
        "priority": priority,
        "created_at": now,
        "started_at": None,
        "completed_at": None,
        "params": params,
        "seconds": seconds,
        "error": None,
        "attempts": 0,
        "worker": None,
        "lease_until": None,
        "cancel": False,
        "result": None,
    }


def open_queue(data: str | Path, redis_url: str | None = None):
    """The job store for a data directory: SQLite inside it, or Redis at `redis_url`."""
    if redis_url:
        return RedisQueue(redis_url)
    return SQLiteQueue(Path(data) / "jobs.db")


# --- SQLite -------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL, progress INTEGER NOT NULL,
  priority INTEGER NOT NULL, created_at REAL NOT NULL, started_at REAL, completed_at REAL,
  params TEXT NOT NULL, seconds REAL NOT NULL, error TEXT, attempts INTEGER NOT NULL,
  worker TEXT, lease_until REAL, cancel INTEGER NOT NULL DEFAULT 0, result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (status, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, created_at);
CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, count INTEGER, total REAL);
"""
_JSON = ("params", "error", "result")


class SQLiteQueue:
    def __init__(self, path: str | Path):
        self._db = LocalSQLite(path, _SCHEMA)

    def _tx(self):
        return transaction(self._db())

    @staticmethod
    def _row(row) -> dict | None:
        if row is None:
            return None
        job = dict(row)
        for k in _JSON:
            job[k] = json.loads(job[k]) if job[k] else None
        job["cancel"] = bool(job["cancel"])
        return job

    def submit(self, job: dict) -> dict:
        cols = list(job)
        vals = [json.dumps(job[k]) if k in _JSON and job[k] is not None else job[k] for k in cols]
        with self._tx() as db:
            db.execute(
                f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                vals,
            )
        return job

    def get(self, job_id: str) -> dict | None:
        return self._row(
            self._db().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )

    def list(self, owner: str, after: str | None, limit: int, order: str) -> tuple[list, bool]:
        """A page of the owner's jobs by creation time, and whether more follow."""
        op, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
        sql, args = "SELECT * FROM jobs WHERE owner = ?", [owner]
        if after:
            cursor = self.get(after)
            if cursor is None or cursor["owner"] != owner:
                raise KeyError(after)
            sql += f" AND (created_at, id) {op} (?, ?)"
            args += [cursor["created_at"], cursor["id"]]
        sql += f" ORDER BY created_at {direction}, id {direction} LIMIT ?"
        rows = self._db().execute(sql, [*args, limit + 1]).fetchall()
        return [self._row(r) for r in rows[:limit]], len(rows) > limit

    def delete(self, job_id: str) -> dict | None:
        """Remove a job; a worker still running it finds its lease gone and stops."""
        with self._tx() as db:
            job = self._row(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        return job

    def cancel(self, job_id: str) -> dict | None:
        """A queued job fails at once as cancelled; a running one is told to stop."""
        err = json.dumps({"code": "cancelled", "message": "cancelled by the user"})
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status = 'failed', error = ?, completed_at = ? "
                "WHERE id = ? AND status = 'queued'",
                (err, time.time(), job_id),
            )
            db.execute(
                "UPDATE jobs SET cancel = 1 WHERE id = ? AND status = 'in_progress'", (job_id,)
            )
        return self.get(job_id)

    def claim(self, worker: str, lease_s: float) -> dict | None:
        """The most urgent queued job, now leased to `worker`; expired leases go back first."""
        now = time.time()
        with self._tx() as db:
            self._expire(db, now)
            row = db.execute(
                "SELECT id FROM jobs WHERE status = 'queued' "
                "ORDER BY priority DESC, created_at, id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status = 'in_progress', worker = ?, lease_until = ?, "
                "attempts = attempts + 1, started_at = COALESCE(started_at, ?) WHERE id = ?",
                (worker, now + lease_s, now, row["id"]),
            )
        return self.get(row["id"])

    @staticmethod
    def _expire(db, now: float, worker: str | None = None) -> None:
        cond = "worker = ?" if worker else "lease_until < ?"
        arg = worker if worker else now
        err = json.dumps(
            {"code": "worker_lost", "message": f"the worker died {MAX_ATTEMPTS} times on it"}
        )
        db.execute(
            "UPDATE jobs SET status = 'failed', error = ?, completed_at = ?, worker = NULL "
            f"WHERE status = 'in_progress' AND {cond} AND attempts >= ?",
            (err, now, arg, MAX_ATTEMPTS),
        )
        db.execute(
            "UPDATE jobs SET status = 'queued', worker = NULL, lease_until = NULL, "
            f"progress = 0 WHERE status = 'in_progress' AND {cond}",
            (arg,),
        )

    def release_worker(self, worker: str) -> None:
        """Requeue every job a (dead or stopping) worker holds."""
        with self._tx() as db:
            self._expire(db, time.time(), worker)

    def heartbeat(self, job_id: str, worker: str, lease_s: float, progress: int | None = None):
        """Renew the lease (and record progress); None if the lease is lost, else `cancel`."""
        sets, args = "lease_until = ?", [time.time() + lease_s]
        if progress is not None:
            sets += ", progress = ?"
            args.append(progress)
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE jobs SET {sets} WHERE id = ? AND worker = ? AND status = 'in_progress'",
                [*args, job_id, worker],
            )
            if cur.rowcount == 0:
                return None
            return bool(db.execute("SELECT cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])

    def finish(self, job_id: str, worker: str, result: dict | None, error: dict | None) -> bool:
        """Complete (result) or fail (error) a job the worker holds; False if it lost it."""
        status = "failed" if error else "completed"
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET status = ?, progress = ?, result = ?, error = ?, "
                "completed_at = ?, lease_until = NULL "
                "WHERE id = ? AND worker = ? AND status = 'in_progress'",
                (
                    status,
                    100 if not error else 0,
                    json.dumps(result) if result else None,
                    json.dumps(error) if error else None,
                    time.time(),
                    job_id,
                    worker,
                ),
            )
            if cur.rowcount and result:
                for name, value in _stat_items(result):
                    db.execute(
                        "INSERT INTO stats VALUES (?, 1, ?) ON CONFLICT(name) DO UPDATE SET "
                        "count = count + 1, total = total + excluded.total",
                        (name, value),
                    )
        return cur.rowcount == 1

    def requeue(self, job_id: str, worker: str) -> None:
        """Give a job back without counting the try (graceful shutdown)."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status = 'queued', worker = NULL, lease_until = NULL, "
                "progress = 0, attempts = MAX(attempts - 1, 0) "
                "WHERE id = ? AND worker = ? AND status = 'in_progress'",
                (job_id, worker),
            )

    def counts(self) -> dict[str, int]:
        rows = self._db().execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {s: 0 for s in STATES} | {r[0]: r[1] for r in rows}

    def stats(self) -> dict[str, tuple[int, float]]:
        """Totals finished jobs add up: stage seconds and seconds of video made."""
        rows = self._db().execute("SELECT name, count, total FROM stats").fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}


def _stat_items(result: dict) -> list[tuple[str, float]]:
    items = [(f"stage_{k}", float(v)) for k, v in (result.get("stages") or {}).items()]
    return [*items, ("video_seconds", float(result.get("seconds", 0.0)))]


# --- Redis --------------------------------------------------------------------------------------

# Every state change is one Lua script, so it is atomic on the Redis server.
_CLAIM = """
local now, lease, worker, max_attempts = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3],
  tonumber(ARGV[4])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'vidgen:leases', '-inf', now)) do
  local job = cjson.decode(redis.call('GET', 'vidgen:job:' .. id))
  redis.call('ZREM', 'vidgen:leases', id)
  redis.call('SREM', 'vidgen:status:in_progress', id)
  if job.attempts >= max_attempts then
    job.status = 'failed'; job.completed_at = now; job.worker = cjson.null
    job.error = {code = 'worker_lost', message = 'the worker died too many times on it'}
    redis.call('SADD', 'vidgen:status:failed', id)
  else
    job.status = 'queued'; job.worker = cjson.null; job.lease_until = cjson.null
    job.progress = 0
    redis.call('ZADD', 'vidgen:queue', tonumber(job._score), id)
    redis.call('SADD', 'vidgen:status:queued', id)
  end
  redis.call('SET', 'vidgen:job:' .. id, cjson.encode(job))
end
local top = redis.call('ZPOPMIN', 'vidgen:queue')
if #top == 0 then return nil end
local id = top[1]
local job = cjson.decode(redis.call('GET', 'vidgen:job:' .. id))
job.status = 'in_progress'; job.worker = worker; job.lease_until = now + lease
job.attempts = job.attempts + 1
if job.started_at == cjson.null or job.started_at == nil then job.started_at = now end
redis.call('SET', 'vidgen:job:' .. id, cjson.encode(job))
redis.call('ZADD', 'vidgen:leases', now + lease, id)
redis.call('SMOVE', 'vidgen:status:queued', 'vidgen:status:in_progress', id)
return cjson.encode(job)
"""

_UPDATE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local job = cjson.decode(raw)
local mode, worker, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local id = job.id
if mode == 'cancel' then
  if job.status == 'queued' then
    job.status = 'failed'; job.completed_at = now
    job.error = {code = 'cancelled', message = 'cancelled by the user'}
    redis.call('ZREM', 'vidgen:queue', id)
    redis.call('SMOVE', 'vidgen:status:queued', 'vidgen:status:failed', id)
  elseif job.status == 'in_progress' then job.cancel = true end
elseif mode == 'delete' then
  redis.call('DEL', KEYS[1]); redis.call('ZREM', 'vidgen:queue', id)
  redis.call('ZREM', 'vidgen:leases', id); redis.call('ZREM', 'vidgen:owner:' .. job.owner, id)
  redis.call('SREM', 'vidgen:status:' .. job.status, id)
  return raw
else
  if job.status ~= 'in_progress' or job.worker ~= worker then return nil end
  if mode == 'heartbeat' then
    job.lease_until = now + tonumber(ARGV[4])
    if ARGV[5] ~= '' then job.progress = tonumber(ARGV[5]) end
    redis.call('ZADD', 'vidgen:leases', job.lease_until, id)
  elseif mode == 'finish' or mode == 'requeue' then
    redis.call('ZREM', 'vidgen:leases', id)
    redis.call('SREM', 'vidgen:status:in_progress', id)
    job.lease_until = cjson.null
    if mode == 'requeue' then
      job.status = 'queued'; job.worker = cjson.null; job.progress = 0
      job.attempts = math.max(job.attempts - 1, 0)
      redis.call('ZADD', 'vidgen:queue', tonumber(job._score), id)
    else
      local res = cjson.decode(ARGV[4])
      job.completed_at = now
      if res.error ~= cjson.null then
        job.status = 'failed'; job.error = res.error; job.progress = 0
      else
        job.status = 'completed'; job.result = res.result; job.progress = 100
        for name, value in pairs(res.stats) do
          redis.call('HINCRBY', 'vidgen:stats:count', name, 1)
          redis.call('HINCRBYFLOAT', 'vidgen:stats:total', name, value)
        end
      end
    end
    redis.call('SADD', 'vidgen:status:' .. job.status, id)
  end
end
redis.call('SET', KEYS[1], cjson.encode(job))
return cjson.encode(job)
"""


class RedisQueue:
    def __init__(self, url: str):
        import redis

        self.r = redis.Redis.from_url(url, decode_responses=True)
        self.r.ping()
        self._claim = self.r.register_script(_CLAIM)
        self._update = self.r.register_script(_UPDATE)

    @staticmethod
    def _load(raw: str | None) -> dict | None:
        if raw is None:
            return None
        job = json.loads(raw)
        job.pop("_score", None)
        for k in ("error", "result"):  # cjson writes an empty table as {}
            if job.get(k) == {} or job.get(k) == []:
                job[k] = None
        return job

    def submit(self, job: dict) -> dict:
        score = (9 - job["priority"]) * 1e13 + job["created_at"] * 1000
        pipe = self.r.pipeline()
        pipe.set(f"vidgen:job:{job['id']}", json.dumps({**job, "_score": score}))
        pipe.zadd("vidgen:queue", {job["id"]: score})
        pipe.zadd(f"vidgen:owner:{job['owner']}", {job["id"]: job["created_at"]})
        pipe.sadd("vidgen:status:queued", job["id"])
        pipe.execute()
        return job

    def get(self, job_id: str) -> dict | None:
        return self._load(self.r.get(f"vidgen:job:{job_id}"))

    def list(self, owner: str, after: str | None, limit: int, order: str) -> tuple[list, bool]:
        key, desc = f"vidgen:owner:{owner}", order != "asc"
        start = 0
        if after:  # the cursor's rank: O(log n), not a scan of the owner's videos
            rank = self.r.zrevrank(key, after) if desc else self.r.zrank(key, after)
            if rank is None:
                raise KeyError(after)
            start = rank + 1
        page = self.r.zrange(key, start, start + limit, desc=desc)  # ordered by creation time
        raws = self.r.mget([f"vidgen:job:{i}" for i in page]) if page else []
        jobs = [j for j in map(self._load, raws) if j]
        return jobs[:limit], len(jobs) > limit

    def _run(self, mode: str, job_id: str, worker: str = "", *args) -> dict | None:
        raw = self._update(keys=[f"vidgen:job:{job_id}"], args=[mode, worker, time.time(), *args])
        return self._load(raw)

    def delete(self, job_id: str) -> dict | None:
        return self._run("delete", job_id)

    def cancel(self, job_id: str) -> dict | None:
        return self._run("cancel", job_id)

    def claim(self, worker: str, lease_s: float) -> dict | None:
        return self._load(self._claim(args=[time.time(), lease_s, worker, MAX_ATTEMPTS]))

    def release_worker(self, worker: str) -> None:
        for job_id in self.r.zrange("vidgen:leases", 0, -1):
            job = self.get(job_id)
            if job and job["worker"] == worker:
                self.r.zadd("vidgen:leases", {job_id: 0})  # expired: the next claim requeues it

    def heartbeat(self, job_id: str, worker: str, lease_s: float, progress: int | None = None):
        job = self._run("heartbeat", job_id, worker, lease_s, "" if progress is None else progress)
        return None if job is None else bool(job.get("cancel"))

    def finish(self, job_id: str, worker: str, result: dict | None, error: dict | None) -> bool:
        stats = dict(_stat_items(result)) if result else {}
        payload = json.dumps({"result": result, "error": error, "stats": stats or {"_": 0}})
        return self._run("finish", job_id, worker, payload) is not None

    def requeue(self, job_id: str, worker: str) -> None:
        self._run("requeue", job_id, worker)

    def counts(self) -> dict[str, int]:
        return {s: self.r.scard(f"vidgen:status:{s}") for s in STATES}

    def stats(self) -> dict[str, tuple[int, float]]:
        counts, totals = self.r.hgetall("vidgen:stats:count"), self.r.hgetall("vidgen:stats:total")
        return {k: (int(v), float(totals[k])) for k, v in counts.items() if k != "_"}
