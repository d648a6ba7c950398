"""GET /v1/models: the served model and what it can make (the studio builds its controls
from this)."""

from __future__ import annotations

from fastapi import APIRouter

from vidgen.studio.server.deps import KeyDep, StateDep
from vidgen.world.scene import CAMERAS

router = APIRouter(prefix="/v1/models", tags=["models"])
ASPECTS = {"1:1": (1, 1), "16:9": (16, 9), "9:16": (9, 16)}


def sizes(multiple: int, short: int = 128) -> dict[str, str]:
    """For each aspect ratio, the valid size with a `short`-pixel short side (the model
    trained on 128x128, 224x128 and 128x224)."""
    out = {}
    for name, (a, b) in ASPECTS.items():
        w, h = (max(multiple, round(short * v / min(a, b) / multiple) * multiple) for v in (a, b))
        out[name] = f"{w}x{h}"
    return out


@router.get("")
def list_models(state: StateDep, _: KeyDep) -> dict:
    spec = state.spec
    return {
        "object": "list",
        "data": [
            {
                "id": state.settings.model,
                "object": "model",
                "owned_by": "vidgen",
                "sizes": sizes(spec.size_multiple),
                "size_multiple": spec.size_multiple,
                "max_seconds": spec.max_seconds,
                "native_fps": spec.native_fps,
                "cameras": list(CAMERAS),
                "capabilities": ["text-to-video", "image-to-video", "remix"],
            }
        ],
    }
