"""The world's vocabulary, its scene description and the seeded scene sampler.

A scene is 1 to 3 objects on a background, seen through a camera, in a style and a lighting.
Everything is in world units: one unit is the shorter side of the frame, so the same scene
renders the same at any size and aspect ratio. Time is in seconds, so the same scene renders
the same at any fps. The held-out split (see `is_heldout_triple`) is fixed and documented in
vidgen/world/README.md.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import asdict, dataclass
from functools import cache, lru_cache

import numpy as np

# --- vocabulary ------------------------------------------------------------------------------

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 38, 38),
    "orange": (247, 136, 24),
    "yellow": (250, 214, 30),
    "green": (40, 168, 64),
    "cyan": (30, 204, 214),
    "blue": (36, 78, 226),
    "purple": (134, 54, 204),
    "pink": (247, 122, 190),
    "brown": (128, 74, 34),
    "white": (244, 244, 244),
    "black": (22, 22, 22),
}
SHAPES = ("ball", "square", "triangle", "star", "ring", "heart")
ROUND_SHAPES = ("ball", "ring")  # spinning them changes no pixel, so the world never spins them
SIZES: dict[str, float] = {"small": 0.075, "medium": 0.11, "large": 0.155}  # radius, units
DIRECTIONS: dict[str, tuple[float, float]] = {  # unit vectors, y grows downwards
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up-left": (-0.7071, -0.7071),
    "up-right": (0.7071, -0.7071),
    "down-left": (-0.7071, 0.7071),
    "down-right": (0.7071, 0.7071),
}
MOTIONS = (*DIRECTIONS, "bounce", "spin", "grow", "shrink", "orbit", "still")
SPEEDS = ("slowly", "quickly")
LINEAR_SPEED = {"slowly": 0.14, "quickly": 0.32}  # units / s
SPIN_SPEED = {"slowly": 1.6, "quickly": 3.6}  # rad / s
SCALE_RATE = {"slowly": 0.22, "quickly": 0.45}  # d(log scale) / s
ORBIT_SPEED = {"slowly": 1.8, "quickly": 3.4}  # rad / s
GRAVITY = 3.2  # units / s^2
RESTITUTION = 0.72  # fraction of speed kept by a bounce

SOLID_BACKGROUNDS = ("white", "black", "blue", "green", "yellow", "pink", "gray", "purple")
BACKGROUND_COLORS = {**COLORS, "gray": (128, 128, 128)}
TEXTURES = ("sunset", "stars", "grass", "checkerboard", "water")
PHOTOS = ("astronaut", "coffee", "cat", "rocket", "motorcycle", "brick", "temple", "flower")
BACKGROUNDS = (
    *(f"solid:{c}" for c in SOLID_BACKGROUNDS),
    *TEXTURES,
    *(f"photo:{p}" for p in PHOTOS),
)
CAMERAS = ("static", "pan-left", "pan-right", "tilt-up", "tilt-down", "zoom-in", "zoom-out")
CAMERA_PAN_SPEED = 0.14  # units / s
CAMERA_ZOOM_RATE = 0.22  # d(log zoom) / s
STYLES = ("plain", "black-and-white", "sepia", "neon", "pastel", "cartoon")
LIGHTINGS = ("day", "dusk", "night")
SPLITS = ("train", "heldout")


# --- scene description -----------------------------------------------------------------------


@dataclass(frozen=True)
class WorldObject:
    """One object: what it is, where it starts (units) and how it moves."""

    shape: str
    color: str
    size: str
    motion: str
    speed: str
    x: float  # start centre, units from the left edge
    y: float  # start centre, units from the top edge
    angle: float = 0.0  # start rotation, radians
    depth: int = 0  # 0 is the back; larger is nearer the camera
    spin_dir: float = 1.0  # +1 clockwise, -1 anticlockwise (spin and orbit)
    orbit_cx: float = 0.0
    orbit_cy: float = 0.0
    orbit_r: float = 0.0
    pace: float = 1.0  # <1 where the nominal speed would leave the frame within the clip


@dataclass(frozen=True)
class Scene:
    """A complete, renderable scene; `seed` drives the background's procedural detail."""

    objects: tuple[WorldObject, ...]
    background: str
    camera: str
    style: str
    lighting: str
    aspect: float  # width / height
    duration: float  # seconds the motion was planned for
    seed: int
    split: str = "train"
    grouped: bool = False  # objects 0 and 1 are identical and captioned as "two ..."

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> Scene:
        objs = tuple(WorldObject(**o) for o in d["objects"])
        return Scene(**{**d, "objects": objs})


def frame_extent(aspect: float) -> tuple[float, float]:
    """Frame width and height in units (the shorter side is 1)."""
    return (aspect, 1.0) if aspect >= 1 else (1.0, 1.0 / aspect)


# --- the held-out split ----------------------------------------------------------------------


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def is_heldout_triple(color: str, shape: str, motion: str) -> bool:
    """True for the colour + shape + motion triples that training never shows (about 1 in 8)."""
    return _stable_hash(f"{color}|{shape}|{motion}") % 8 == 0


def object_heldout(o: WorldObject) -> bool:
    return is_heldout_triple(o.color, o.shape, o.motion)


# --- sampling --------------------------------------------------------------------------------


def _allowed_motions(shape: str) -> tuple[str, ...]:
    return tuple(m for m in MOTIONS if not (m == "spin" and shape in ROUND_SHAPES))


@lru_cache(maxsize=1024)
def _backdrop_pixels(background: str, style: str, lighting: str) -> np.ndarray:
    """(N, 3) colours of a backdrop as the style and lighting show it (small, static camera)."""
    from vidgen.world.backgrounds import render_background  # the renderer's own pipeline
    from vidgen.world.render import grade

    one = np.ones(1, np.float32)
    sc = Scene((), background, "static", style, lighting, 1.0, 1.0, seed=1234)
    img = grade(
        render_background(sc, 32, 32, one * 0.5, one * 0.5, one)[0], style, lighting, backdrop=True
    )
    return img.reshape(-1, 3)


@cache  # a few thousand combinations; sampling a scene asks about 11 times
def visible(color: str, background: str, style: str, lighting: str) -> bool:
    """Whether an object of this colour stands out from the backdrop: at most 2% of the
    backdrop's pixels look like it (in brightness alone for the colourless styles)."""
    from vidgen.world.render import object_rgb

    obj, px = object_rgb(color, style, lighting), _backdrop_pixels(background, style, lighting)
    if style in ("black-and-white", "sepia"):
        luma = np.array([0.299, 0.587, 0.114], np.float32)
        near = np.abs(px @ luma - obj @ luma) < 0.12
    else:  # dim light and pastel wash lower all contrasts; the margin follows them down
        from vidgen.world.render import LIGHTING_GAIN

        margin = 0.3 * float(LIGHTING_GAIN[lighting].mean()) * (0.45 if style == "pastel" else 1)
        near = np.linalg.norm(px - obj, axis=1) < max(margin, 0.15)
    return float(near.mean()) <= 0.02


def visible_box(camera: str, w: float, h: float, duration: float) -> tuple[float, ...]:
    """The world region (x0, x1, y0, y1) the camera sees for the whole clip, and the zoom
    by which objects grow on screen."""
    d = CAMERA_PAN_SPEED * duration
    z = math.exp(CAMERA_ZOOM_RATE * duration)
    boxes = {
        "pan-left": (0.0, w - d, 0.0, h, 1.0),
        "pan-right": (d, w, 0.0, h, 1.0),
        "tilt-up": (0.0, w, 0.0, h - d, 1.0),
        "tilt-down": (0.0, w, d, h, 1.0),
        "zoom-in": (
            w / 2 * (1 - 1 / z),
            w / 2 * (1 + 1 / z),
            h / 2 * (1 - 1 / z),
            h / 2 * (1 + 1 / z),
            z,
        ),
    }
    return boxes.get(camera, (0.0, w, 0.0, h, 1.0))


def _place(rng: random.Random, o: dict, box: tuple[float, ...], duration: float) -> dict | None:
    """Choose a start position (and path) that keeps the object in view for the whole clip,
    camera move included; None when it cannot fit."""
    bx0, bx1, by0, by1, zoom = box
    w, h = bx1 - bx0, by1 - by0
    r = SIZES[o["size"]]
    m, speed = o["motion"], o["speed"]
    margin = r * 1.25 * zoom
    if m in ("grow", "shrink"):  # at most a doubling (or halving) over the clip
        o["pace"] = min(1.0, math.log(2.0) / (SCALE_RATE[speed] * duration))
        margin *= 2.0 if m == "grow" else 1.0
    if w < 2 * margin + 0.05 or h < 2 * margin + 0.05:
        return None

    def u(lo: float, hi: float) -> float:
        return rng.uniform(lo, max(lo, hi))

    if m in DIRECTIONS:
        dx, dy = DIRECTIONS[m]
        nominal = LINEAR_SPEED[speed] * duration
        span_x, span_y = w - 2 * margin, h - 2 * margin
        room = 0.8 * min(span_x / max(abs(dx), 1e-6), span_y / max(abs(dy), 1e-6))
        dist = min(nominal, room)
        o["pace"] = dist / nominal
        ex, ey = dx * dist, dy * dist
        return {
            **o,
            "x": u(bx0 + margin - min(ex, 0), bx1 - margin - max(ex, 0)),
            "y": u(by0 + margin - min(ey, 0), by1 - margin - max(ey, 0)),
        }
    if m == "bounce":  # falls to the floor at the bottom of the frame, which must stay in view
        return {**o, "x": u(bx0 + margin, bx1 - margin), "y": u(by0 + margin, by0 + 0.45 * h)}
    if m == "orbit":
        orbit_r = rng.uniform(0.16, 0.22)
        if w < 2 * (margin + orbit_r) or h < 2 * (margin + orbit_r):
            return None
        cx = u(bx0 + margin + orbit_r, bx1 - margin - orbit_r)
        cy = u(by0 + margin + orbit_r, by1 - margin - orbit_r)
        a0 = rng.uniform(0, 2 * math.pi)
        return {
            **o,
            "x": cx + orbit_r * math.cos(a0),
            "y": cy + orbit_r * math.sin(a0),
            "orbit_cx": cx,
            "orbit_cy": cy,
            "orbit_r": orbit_r,
        }
    return {**o, "x": u(bx0 + margin, bx1 - margin), "y": u(by0 + margin, by1 - margin)}


def _overlap(a: dict, b: dict) -> bool:
    d = math.hypot(a["x"] - b["x"], a["y"] - b["y"])
    return d < 1.4 * (SIZES[a["size"]] + SIZES[b["size"]])


def sample_scene(
    seed: int, split: str = "train", aspect: float = 1.0, duration: float = 2.0
) -> Scene:
    """Draw one scene. Train scenes never hold a held-out triple; held-out scenes always do."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rng = random.Random(seed)
    w, h = frame_extent(aspect)
    background = rng.choice(BACKGROUNDS)
    camera = (
        "static"
        if background.startswith("solid:") or rng.random() < 0.45
        else (rng.choice(CAMERAS[1:]))
    )
    style = rng.choice(STYLES) if rng.random() < 0.6 else "plain"
    lighting = rng.choice(LIGHTINGS) if rng.random() < 0.5 else "day"
    if style == "pastel":
        lighting = "day"
    if style in ("black-and-white", "sepia") and (
        lighting == "night" or not background.startswith("solid:")
    ):
        style = "plain"  # without colour, objects cannot be told from a photo's flat patches
    if style == "cartoon" and (lighting == "night" or background in ("stars", "solid:black")):
        style = "plain"  # a black outline does not show on a dark backdrop
    palette = [c for c in COLORS if visible(c, background, style, lighting)]
    if len(palette) < 3:  # this look hides most colours on this backdrop: show it plainly
        style, lighting = "plain", "day"
        palette = [c for c in COLORS if visible(c, background, style, lighting)]
    if style in ("neon", "cartoon"):  # dark colours neither glow nor show a black outline
        palette = [c for c in palette if c not in ("black", "brown")]
    if style == "neon":  # white light has no colour to glow with
        palette = [c for c in palette if c != "white"]

    n = rng.choices((1, 2, 3), weights=(0.5, 0.33, 0.17))[0]
    grouped = n >= 2 and rng.random() < 0.2
    objs: list[dict] = []
    for i in range(n):
        for _attempt in range(100):
            if grouped and i == 1:
                base = objs[0]
                o = {k: base[k] for k in ("shape", "color", "size", "motion", "speed")}
            else:
                shape = rng.choice(SHAPES)
                o = {
                    "shape": shape,
                    "color": rng.choice(palette),
                    "size": rng.choice(tuple(SIZES)),
                    "motion": rng.choice(_allowed_motions(shape)),
                    "speed": rng.choice(SPEEDS),
                }
            held = is_heldout_triple(o["color"], o["shape"], o["motion"])
            want_held = split == "heldout" and i == 0
            if held != want_held and (split == "train" or i == 0):
                continue
            if n > 1 and o["size"] == "large":
                o["size"] = "medium"
            if not (grouped and i == 1) and any(p["color"] == o["color"] for p in objs):
                continue  # one colour per object (a group of two moves side by side)
            if o["motion"] == "shrink" and o["size"] == "small":
                continue  # it would shrink below what a 128-pixel frame can show
            if o["motion"] == "bounce" and camera in ("tilt-up", "tilt-down", "zoom-in"):
                continue  # the floor would leave the view
            o = _place(rng, o, visible_box(camera, w, h, duration), duration)
            if o is None:
                continue
            if any(_overlap(o, p) for p in objs):
                continue
            objs.append(o)
            break
    keys = ("shape", "color", "size", "motion", "speed")
    grouped = grouped and len(objs) >= 2 and all(objs[0][k] == objs[1][k] for k in keys)
    objects = tuple(
        WorldObject(
            **o,
            angle=rng.uniform(0, 2 * math.pi) if o["shape"] not in ROUND_SHAPES else 0.0,
            depth=depth,
            spin_dir=rng.choice((-1.0, 1.0)),
        )
        for depth, o in enumerate(objs)
    )
    return Scene(
        objects=objects,
        background=background,
        camera=camera,
        style=style,
        lighting=lighting,
        aspect=aspect,
        duration=duration,
        seed=seed,
        split=split,
        grouped=grouped,
    )
