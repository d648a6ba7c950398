"""POST /v1/verify: C2PA status, recipe and watermark of an uploaded video (`vidgen verify`)."""

from __future__ import annotations

import os
import secrets

from anyio import to_thread
from fastapi import APIRouter, Request

from vidgen.studio.server.deps import KeyDep, StateDep, read_body
from vidgen.studio.server.errors import ApiError

router = APIRouter(prefix="/v1", tags=["trust"])
MAX_PIXELS = 200_000_000  # width x height x frames decoded for the watermark check


def _probe(path) -> None:
    """Refuse what is not a video, or would take too much memory to decode."""
    import av

    try:
        with av.open(str(path)) as box:
            s = box.streams.video[0]
            frames = s.frames or int((s.duration or 0) * (s.time_base or 0) * (s.average_rate or 0))
            w, h = s.codec_context.width, s.codec_context.height
    except Exception:  # not a container PyAV can open, or no video stream
        raise ApiError(400, "file must be a video (MP4, WebM, ...)", "file") from None
    if w * h * max(frames, 1) > MAX_PIXELS:
        raise ApiError(400, f"file is {w}x{h} with {frames} frames; at most {MAX_PIXELS:,} "
                       "pixels in all can be checked", "file")  # fmt: skip


def _verify(path) -> dict:
    from vidgen.io.provenance import verify

    _probe(path)
    try:
        return verify(path)
    except ValueError as e:  # undecodable frames
        raise ApiError(400, f"file: {e}", "file") from None


@router.post(
    "/verify",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def verify_video(request: Request, state: StateDep, _: KeyDep) -> dict:
    """The same report as `vidgen verify --json`: c2pa, recipe, watermark."""
    _fields, files = await read_body(request, int(state.settings.max_upload_mb * 2**20))
    data = files.get("file")
    if not data:
        raise ApiError(400, "file: upload the video to check as multipart field 'file'", "file")
    tmp = state.settings.data / f".verify-{secrets.token_hex(8)}.mp4"
    tmp.write_bytes(data)
    try:
        return await to_thread.run_sync(_verify, tmp)
    finally:
        os.unlink(tmp)
