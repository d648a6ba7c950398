"""Server settings: flags of `vidgen serve`, or VIDGEN_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDGEN_", frozen=True)

    data: Path = Path("data")  # jobs.db, keys.db, videos/, previews/, inputs/
    model: str = "default"  # the served model: a name under models/ or a directory
    redis: str | None = None  # jobs go through Redis when set
    workers: int = 1  # worker processes this server starts and supervises
    max_upload_mb: float = 20.0
    max_upload_megapixels: float = 16.0
    default_quota_s: float = 600.0
    worker_precision: str = "auto"
    worker_compile: bool = False  # workers compile the transformer as they start
    grace_s: float = 30.0  # shutdown: how long running jobs may take to finish
    lease_s: float = 20.0  # a job whose worker sent no heartbeat for this long is requeued
