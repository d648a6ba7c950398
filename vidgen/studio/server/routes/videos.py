"""The OpenAI Videos API: create, retrieve, list, delete, content, remix, extend, edit, events."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from pathlib import Path
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from PIL import Image

from vidgen.pipelines.spec import Request as EngineRequest
from vidgen.studio.queue import new_job
from vidgen.studio.server.deps import KeyDep, StateDep, body_schema, parse, read_body
from vidgen.studio.server.errors import ApiError
from vidgen.studio.server.schemas import (
    CreateVideo,
    Deleted,
    EditVideo,
    ExtendVideo,
    RemixVideo,
    Video,
    VideoList,
)
from vidgen.studio.worker import preview_path, video_dir
from vidgen.world.captions import CAMERA_WORDS

router = APIRouter(prefix="/v1/videos", tags=["videos"])
ID = re.compile(r"^video_[0-9a-f]{24}$")
VARIANTS = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.webp", "image/webp"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}
# a message from the engine's checks starts with the field it is about
_PARAM = {"width": "size", "height": "size", "negative": "negative_prompt"}


def controls(params: dict) -> dict:
    """A job's engine request as the API's own fields (what a remix starts from)."""
    r = params["request"]
    return {
        "size": f"{r['width']}x{r['height']}",
        "seed": r["seed"],
        "fps": r["fps"],
        "steps": r["steps"],
        "guidance": r["guidance"],
        "negative_prompt": r["negative"],
        "camera": params.get("camera"),
    }


def to_video(job: dict) -> Video:
    p = job["params"]
    return Video(
        id=job["id"],
        created_at=int(job["created_at"]),
        completed_at=int(job["completed_at"]) if job["completed_at"] else None,
        model=p["model"],
        status=job["status"],
        progress=job["progress"],
        prompt=p["prompt"],
        remixed_from_video_id=p.get("remixed_from"),
        seconds=f"{p['request']['seconds']:g}",
        error=job["error"],
        priority=job["priority"],
        attempts=job["attempts"],
        recipe=(job["result"] or {}).get("recipe"),
        stages=(job["result"] or {}).get("stages"),
        **controls(p),
    )


def owned(state, key, video_id: str) -> dict:
    """The caller's job with this id; anyone else's (or none) is a 404."""
    job = state.queue.get(video_id) if ID.match(video_id) else None
    if job is None or job["owner"] != key.id:
        raise ApiError(404, f"no video with id {video_id!r}", "video_id", "not_found")
    return job


def parse_size(size: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,5})x(\d{1,5})", size.strip().lower())
    if not m:
        raise ApiError(
            400, f"size must look like WIDTHxHEIGHT (e.g. 128x128), got {size!r}", "size"
        )
    return int(m[1]), int(m[2])


def check_image(data: bytes, max_mp: float) -> Image.Image:
    """A decodable image of at most max_mp megapixels, or a 400 naming input_reference."""
    try:
        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > max_mp * 1e6:
            raise ApiError(
                400,
                f"input_reference is {w}x{h} ({w * h / 1e6:.0f} megapixels); at most "
                f"{max_mp:g} megapixels",
                "input_reference",
            )
        img.load()
        return img.convert("RGB")
    except ApiError:
        raise
    except Exception:  # not an image, truncated, or a decompression bomb
        raise ApiError(
            400, "input_reference must be a PNG, JPEG or WebP image", "input_reference"
        ) from None


def build_params(state, body: CreateVideo) -> dict:
    """The job's parameters: a full engine request the served model can make, or a 400."""
    spec = state.spec
    if body.model not in (None, state.settings.model, "default"):
        raise ApiError(400, f"model must be {state.settings.model!r}, got {body.model!r}", "model")
    if body.keyframes:
        raise ApiError(
            400,
            f"keyframes are not available with model {state.settings.model!r} yet: it pins "
            "only the first frame (image-to-video through input_reference)",
            "keyframes",
            "capability_unavailable",
        )
    w, h = parse_size(body.size or "128x128")
    prompt = body.prompt.strip()
    engine_prompt = f"{prompt}, {CAMERA_WORDS[body.camera][0][0]}" if body.camera else prompt
    req = EngineRequest(
        prompt=engine_prompt,
        negative=body.negative_prompt or "",
        seconds=spec.max_seconds if body.seconds is None else body.seconds,
        fps=24.0 if body.fps is None else body.fps,
        width=w,
        height=h,
        seed=0 if body.seed is None else body.seed,
        steps=20 if body.steps is None else body.steps,
        guidance=4.0 if body.guidance is None else body.guidance,
        sampler=body.sampler or "euler",
    )
    try:
        spec.validate(req)
    except ValueError as e:
        word = str(e).split()[0]
        raise ApiError(400, str(e), _PARAM.get(word, word), "invalid_value") from None
    request = {k: v for k, v in req.__dict__.items() if k != "conditioning"}
    return {"model": state.settings.model, "prompt": prompt, "camera": body.camera,
            "request": request}  # fmt: skip


async def allowed(state, prompt: str) -> None:
    """The content policy, on every prompt before anything is queued or charged."""
    decision = await state.gate.check(prompt)
    if not decision.allowed:
        raise ApiError(400, decision.message, "prompt", "content_policy_violation",
                       category=decision.category)  # fmt: skip


def _save_input(data: Path, job_id: str, image: Image.Image) -> str:
    rel = f"inputs/{job_id}.png"
    (data / "inputs").mkdir(parents=True, exist_ok=True)
    tmp = data / f"inputs/.{job_id}.tmp"
    image.save(tmp, format="PNG")
    tmp.replace(data / rel)
    return rel


async def submit(state, key, params: dict, priority: int | None, image: Image.Image | None):
    """Policy, quota, then the queue. The SQLite writes run on the event loop: one process
    writing in turn beats many threads waiting on the database lock."""
    await allowed(state, params["prompt"])
    seconds = params["request"]["seconds"]
    if state.keys.charge(key, seconds) is None:
        raise ApiError(
            429,
            f"daily quota reached: {state.keys.used(key):g} of {key.quota_s:g} seconds of "
            "video used today",
            "seconds",
            "quota_exceeded",
        )
    job = new_job(key.id, params, seconds, 5 if priority is None else priority)
    if image is not None:
        data = state.settings.data
        params["input_reference"] = await to_thread.run_sync(_save_input, data, job["id"], image)
    return to_video(state.queue.submit(job))


@router.post("", response_model=Video, openapi_extra=body_schema(CreateVideo, ("input_reference",)))
async def create_video(request: Request, state: StateDep, key: KeyDep) -> Video:
    """Queue a video: text-to-video, or image-to-video with an `input_reference` image."""
    max_bytes = int(state.settings.max_upload_mb * 2**20)
    fields, files = await read_body(request, max_bytes)
    ref = files.pop("input_reference", None)
    if isinstance(fields.get("input_reference"), str):  # JSON: a base64 data URL
        ref = _data_url(fields.pop("input_reference"), max_bytes)
    body = parse(CreateVideo, fields)
    image = None if ref is None else check_image(ref, state.settings.max_upload_megapixels)
    params = build_params(state, body)
    return await submit(state, key, params, body.priority, image)


def _data_url(value: str, max_bytes: int) -> bytes:
    import base64
    import binascii

    head, _, b64 = value.partition(",")
    if not head.startswith("data:image/") or len(b64) > max_bytes * 4 // 3 + 4:
        raise ApiError(400, "input_reference must be an image upload or a data:image/ URL",
                       "input_reference")  # fmt: skip
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "input_reference: invalid base64", "input_reference") from None


@router.get("", response_model=VideoList)
async def list_videos(
    state: StateDep,
    key: KeyDep,
    after: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> VideoList:
    """The caller's videos, newest first by default; page with `after` = the last id seen."""
    try:
        jobs, more = state.queue.list(key.id, after, limit, order)
    except KeyError:
        raise ApiError(400, f"after: no video with id {after!r}", "after") from None
    data = [to_video(j) for j in jobs]
    return VideoList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=more,
    )


@router.get("/{video_id}", response_model=Video)
async def retrieve_video(video_id: str, state: StateDep, key: KeyDep) -> Video:
    return to_video(owned(state, key, video_id))


@router.delete("/{video_id}", response_model=Deleted)
def delete_video(video_id: str, state: StateDep, key: KeyDep) -> Deleted:
    """Delete a video and its files; a running job is stopped."""
    owned(state, key, video_id)
    state.queue.delete(video_id)
    data = state.settings.data
    shutil.rmtree(video_dir(data, video_id), ignore_errors=True)
    preview_path(data, video_id).unlink(missing_ok=True)
    (data / "inputs" / f"{video_id}.png").unlink(missing_ok=True)
    return Deleted(id=video_id, object="video.deleted", deleted=True)


@router.post("/{video_id}/cancel", response_model=Video)
def cancel_video(video_id: str, state: StateDep, key: KeyDep) -> Video:
    """Stop a queued or running video; it ends as failed with the code `cancelled`."""
    owned(state, key, video_id)
    return to_video(state.queue.cancel(video_id))


@router.get("/{video_id}/content")
def video_content(
    video_id: str,
    state: StateDep,
    key: KeyDep,
    variant: Annotated[Literal["video", "thumbnail", "spritesheet", "preview"], Query()] = "video",
):
    """The finished MP4, its thumbnail (WebP) or spritesheet (JPEG); `preview` while running."""
    job = owned(state, key, video_id)
    if variant == "preview":
        path = preview_path(state.settings.data, video_id)
        if job["status"] != "in_progress" or not path.is_file():
            raise ApiError(404, "no preview: previews exist only while the video is rendering",
                           "variant")  # fmt: skip
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
    if job["status"] != "completed":
        raise ApiError(400, f"video {video_id} is {job['status']}, not completed", "video_id",
                       "video_not_ready")  # fmt: skip
    name, media = VARIANTS[variant]
    path = video_dir(state.settings.data, video_id) / name
    if not path.is_file():
        raise ApiError(404, f"{variant} of {video_id} is missing", "variant")
    return FileResponse(path, media_type=media)


@router.post("/{video_id}/remix", response_model=Video, openapi_extra=body_schema(RemixVideo))
async def remix_video(video_id: str, request: Request, state: StateDep, key: KeyDep) -> Video:
    """A new video from a completed one's recipe with a new prompt (and optionally seed)."""
    fields, _ = await read_body(request, 1 << 20)
    body = parse(RemixVideo, fields)
    src = owned(state, key, video_id)
    if src["status"] != "completed":
        raise ApiError(400, f"video {video_id} is {src['status']}; only a completed video can be "
                       "remixed", "video_id", "video_not_ready")  # fmt: skip
    p = src["params"]
    fields = controls(p)
    if body.seed is not None:
        fields["seed"] = body.seed
    create = CreateVideo(
        prompt=body.prompt, seconds=p["request"]["seconds"], sampler=p["request"]["sampler"],
        **fields,
    )  # fmt: skip
    params = {**build_params(state, create), "remixed_from": video_id}
    image = None
    if p.get("input_reference"):
        image = Image.open(state.settings.data / p["input_reference"]).convert("RGB")
    priority = src["priority"] if body.priority is None else body.priority
    return await submit(state, key, params, priority, image)


def _unavailable(state, key, fields: dict, files: dict, what: str) -> None:
    ref = fields.get("video")
    if isinstance(ref, dict) and ref.get("id"):
        owned(state, key, str(ref["id"]))
    elif "video" not in files:
        raise ApiError(400, "video: give a video upload or {\"id\": ...} of a completed video",
                       "video")  # fmt: skip
    raise ApiError(
        400,
        f"model {state.settings.model!r} cannot {what} yet: this capability comes with a later "
        "engine release",
        "video",
        "capability_unavailable",
    )


@router.post(
    "/extensions", response_model=Video, openapi_extra=body_schema(ExtendVideo, ("video",))
)
async def extend_video(request: Request, state: StateDep, key: KeyDep) -> Video:
    """Extend a completed video (validated; the served model cannot extend yet)."""
    fields, files = await read_body(request, int(state.settings.max_upload_mb * 2**20))
    parse(ExtendVideo, {k: v for k, v in fields.items() if k != "video"} | {"video": None})
    _unavailable(state, key, fields, files, "extend videos")


@router.post("/edits", response_model=Video, openapi_extra=body_schema(EditVideo, ("video",)))
async def edit_video(request: Request, state: StateDep, key: KeyDep) -> Video:
    """Edit a video with a prompt (validated; the served model cannot edit yet)."""
    fields, files = await read_body(request, int(state.settings.max_upload_mb * 2**20))
    parse(EditVideo, {k: v for k, v in fields.items() if k != "video"} | {"video": None})
    _unavailable(state, key, fields, files, "edit videos")


@router.get("/{video_id}/events")
async def video_events(video_id: str, request: Request, state: StateDep, key: KeyDep):
    """Server-Sent Events: the video object each time its status or progress changes."""
    owned(state, key, video_id)

    async def stream():
        last, idle = None, 0.0
        while not await request.is_disconnected():
            job = await to_thread.run_sync(state.queue.get, video_id)
            if job is None:
                yield "event: deleted\ndata: {}\n\n"
                return
            now = (job["status"], job["progress"])
            if now != last:
                last, idle = now, 0.0
                yield f"event: video\ndata: {to_video(job).model_dump_json()}\n\n"
                if job["status"] in ("completed", "failed"):
                    return
            elif idle > 15:
                idle = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(0.25)
            idle += 0.25

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})  # fmt: skip
