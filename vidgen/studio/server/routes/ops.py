"""Operations: /healthz and /metrics (Prometheus), read from the queue at scrape time."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from vidgen.studio.server.deps import StateDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(state: StateDep) -> dict:
    counts = state.queue.counts()
    return {"status": "ok", "queued": counts["queued"], "in_progress": counts["in_progress"]}


class QueueCollector:
    """Jobs by state, queue depth, stage latencies and seconds of video, from the store."""

    def __init__(self, queue):
        self.queue = queue

    def collect(self):
        counts = self.queue.counts()
        jobs = GaugeMetricFamily("vidgen_jobs", "Jobs by state", labels=["state"])
        for state, n in counts.items():
            jobs.add_metric([state], n)
        yield jobs
        yield GaugeMetricFamily("vidgen_queue_depth", "Jobs waiting", value=counts["queued"])
        stats = self.queue.stats()
        stages = SummaryMetricFamily(
            "vidgen_stage_seconds", "Time per pipeline stage", labels=["stage"]
        )
        for name, (n, total) in sorted(stats.items()):
            if name.startswith("stage_"):
                stages.add_metric([name[6:]], n, total)
        yield stages
        made = stats.get("video_seconds", (0, 0.0))[1]
        yield CounterMetricFamily("vidgen_video_seconds", "Seconds of video made", value=made)


@router.get("/metrics")
def metrics(state: StateDep) -> Response:
    registry = CollectorRegistry()
    registry.register(QueueCollector(state.queue))
    body = generate_latest(registry) + generate_latest()  # + the process's own metrics
    return Response(body, media_type="text/plain; version=0.0.4")
