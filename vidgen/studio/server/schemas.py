"""Request and response bodies of the videos API (kept apart from the queue's job rows)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from vidgen.world.scene import CAMERAS

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class CreateVideo(BaseModel):
    """POST /v1/videos: OpenAI's fields, then vidgen's optional extras."""

    model_config = ConfigDict(extra="forbid")

    prompt: Text
    model: str | None = Field(None, max_length=200)
    seconds: float | None = Field(None, description="duration; OpenAI clients send a string")
    size: str | None = Field(None, max_length=20, description="WIDTHxHEIGHT, e.g. 128x128")
    # vidgen's extras
    seed: int | None = Field(None, ge=0, lt=2**63)
    fps: float | None = Field(None, ge=1, le=60)
    steps: int | None = Field(None, ge=1, le=200)
    guidance: float | None = Field(None, ge=0, le=30)
    negative_prompt: str | None = Field(None, max_length=2000)
    sampler: Literal["euler", "heun"] | None = None
    camera: Literal[CAMERAS] | None = Field(None, description="a camera move")  # type: ignore[valid-type]
    keyframes: str | None = Field(None, max_length=10_000, description="JSON list of keyframes")
    priority: int | None = Field(None, ge=0, le=9, description="9 runs first")


class RemixVideo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: Text
    seed: int | None = Field(None, ge=0, lt=2**63, description="a new seed re-runs the recipe")
    priority: int | None = Field(None, ge=0, le=9)


class VideoRef(BaseModel):
    id: str = Field(max_length=100)


class ExtendVideo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: Text
    seconds: float = Field(gt=0, le=60)
    video: VideoRef | None = None


class EditVideo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: Text
    video: VideoRef | None = None


class VideoError(BaseModel):
    code: str
    message: str
    param: str | None = None


class Video(BaseModel):
    """The OpenAI video object, plus the recipe and vidgen's controls."""

    id: str
    object: Literal["video"] = "video"
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    seconds: str
    size: str
    error: VideoError | None = None
    seed: int
    fps: float
    steps: int
    guidance: float
    negative_prompt: str
    camera: str | None = None
    priority: int
    attempts: int
    recipe: dict | None = None
    stages: dict[str, float] | None = None


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class Deleted(BaseModel):
    id: str
    object: str
    deleted: bool


class CreateKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("default", min_length=1, max_length=100)
    admin: bool = False
    quota_s: float | None = Field(None, ge=0, le=1e7, description="seconds of video per day")
