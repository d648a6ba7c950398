"""Captions for scenes, in many phrasings, and the parser that turns a prompt back into a scene.

Every slot has training phrasings and held-out phrasings (`[train, heldout]`). Training
captions only ever use the first list; held-out captions use the held-out sentence template and
draw from the second list where it has entries. The parser knows both, so WorldBench can read
prompts the model never saw.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from vidgen.world.scene import PHOTOS, SOLID_BACKGROUNDS, Scene, WorldObject

Phr = tuple[list[str], list[str]]

COLOR_WORDS: dict[str, Phr] = {
    "red": (["red"], ["crimson"]),
    "orange": (["orange"], ["tangerine"]),
    "yellow": (["yellow"], ["golden"]),
    "green": (["green"], ["emerald"]),
    "cyan": (["cyan", "turquoise"], ["aqua"]),
    "blue": (["blue"], ["azure"]),
    "purple": (["purple"], ["violet"]),
    "pink": (["pink"], ["rose-colored"]),
    "brown": (["brown"], ["chocolate"]),
    "white": (["white"], ["snow-white"]),
    "black": (["black"], ["jet-black"]),
}
BG_COLOR_WORDS = {**{k: v[0] for k, v in COLOR_WORDS.items()}, "gray": ["gray", "grey"]}
SHAPE_WORDS: dict[str, Phr] = {
    "ball": (["ball", "circle", "disc", "dot"], ["orb", "sphere"]),
    "square": (["square", "box", "block"], ["tile"]),
    "triangle": (["triangle"], ["pyramid"]),
    "star": (["star"], ["five-pointed star"]),
    "ring": (["ring", "donut", "hoop"], ["doughnut"]),
    "heart": (["heart"], ["valentine heart"]),
}
PLURAL = {
    "box": "boxes",
    "circle": "circles",
    "dot": "dots",
    "sphere": "spheres",
    "valentine heart": "valentine hearts",
}
SIZE_WORDS: dict[str, Phr] = {
    "small": (["small", "little", "tiny"], ["petite"]),
    "medium": (["medium-sized", "mid-sized"], ["average-sized"]),
    "large": (["large", "big"], ["huge"]),
}
SPEED_WORDS: dict[str, Phr] = {
    "slowly": (["slowly", "gently", "leisurely"], ["sluggishly"]),
    "quickly": (["quickly", "fast", "rapidly"], ["swiftly"]),
}
_DIR_WORDS: dict[str, Phr] = {
    "left": (["to the left", "left", "leftward"], ["toward the left edge"]),
    "right": (["to the right", "right", "rightward"], ["toward the right edge"]),
    "up": (["up", "upward", "toward the top"], ["skyward"]),
    "down": (["down", "downward", "toward the bottom"], ["earthward"]),
    "up-left": (["up and to the left", "diagonally up-left", "toward the top left"], ["northwest"]),
    "up-right": (
        ["up and to the right", "diagonally up-right", "toward the top right"],
        ["northeast"],
    ),
    "down-left": (
        ["down and to the left", "diagonally down-left", "toward the bottom left"],
        ["southwest"],
    ),
    "down-right": (
        ["down and to the right", "diagonally down-right", "toward the bottom right"],
        ["southeast"],
    ),
}
_MOVE_VERBS: Phr = (["move{s}", "slide{s}", "drift{s}", "travel{s}"], ["glide{s}"])
# {s}/{es} become "s"/"es" for one object and "" for two; {v} marks where a speed word may go
MOTION_PHRASES: dict[str, Phr] = {
    "bounce": (
        ["bounce{s} {v}", "bounce{s} {v} up and down", "bounce{s} {v} on the floor"],
        ["hop{s} {v} up and down"],
    ),
    "spin": (
        ["spin{s} {v}", "rotate{s} {v}", "spin{s} {v} in place", "turn{s} {v} around"],
        ["twirl{s} {v}"],
    ),
    "grow": (
        ["grow{s} {v}", "grow{s} {v} bigger", "expand{s} {v}", "get{s} {v} larger"],
        ["swell{s} {v}"],
    ),
    "shrink": (["shrink{s} {v}", "get{s} {v} smaller", "contract{s} {v}"], ["dwindle{s} {v}"]),
    "orbit": (
        [
            "orbit{s} {v}",
            "move{s} {v} around in a loop",
            "go{es} {v} round and round",
            "loop{s} {v} around",
        ],
        ["revolve{s} {v}"],
    ),
    "still": (
        ["stay{s} still", "sit{s} still", "rest{s} in place", "do{es} not move"],
        ["remain{s} motionless"],
    ),
}
CAMERA_WORDS: dict[str, Phr] = {
    "static": (
        ["the camera is static", "static camera", "the camera stays still", "locked-off camera"],
        ["the camera does not move"],
    ),
    "pan-left": (
        ["the camera pans left", "the camera pans to the left", "camera panning left"],
        ["the camera sweeps left"],
    ),
    "pan-right": (
        ["the camera pans right", "the camera pans to the right", "camera panning right"],
        ["the camera sweeps right"],
    ),
    "tilt-up": (
        ["the camera tilts up", "the camera tilts upward", "camera tilting up"],
        ["the camera sweeps up"],
    ),
    "tilt-down": (
        ["the camera tilts down", "the camera tilts downward", "camera tilting down"],
        ["the camera sweeps down"],
    ),
    "zoom-in": (
        ["the camera zooms in", "camera zooming in", "slow zoom in"],
        ["the camera pushes in"],
    ),
    "zoom-out": (
        ["the camera zooms out", "camera zooming out", "slow zoom out"],
        ["the camera pulls back"],
    ),
}
_PHOTO_NAMES = {
    "astronaut": "an astronaut",
    "coffee": "a cup of coffee",
    "cat": "a cat",
    "rocket": "a rocket",
    "motorcycle": "a motorcycle",
    "brick": "a brick wall",
    "temple": "a chinese temple",
    "flower": "a flower",
}
BACKGROUND_WORDS: dict[str, Phr] = {
    **{
        f"solid:{c}": (
            [f"on a plain {w} background" for w in BG_COLOR_WORDS[c]]
            + [f"against a solid {BG_COLOR_WORDS[c][0]} backdrop"],
            [f"in front of a flat {BG_COLOR_WORDS[c][0]} wall"],
        )
        for c in SOLID_BACKGROUNDS
    },
    "sunset": (
        ["against a sunset sky", "under a sunset sky", "in front of a setting sun"],
        ["before a glowing sunset horizon"],
    ),
    "stars": (
        ["under a starry night sky", "against a starry sky", "in front of a sky full of stars"],
        ["beneath twinkling stars"],
    ),
    "grass": (["on a grass field", "on green grass", "in a grassy meadow"], ["on a lawn"]),
    "checkerboard": (
        ["on a checkerboard floor", "on a checkered floor", "on a chessboard floor"],
        ["on a chequered tile floor"],
    ),
    "water": (
        ["over water", "above rippling water", "on the surface of a lake"],
        ["over ocean waves"],
    ),
    **{
        f"photo:{p}": (
            [
                f"in front of a photo of {_PHOTO_NAMES[p]}",
                f"over a photograph of {_PHOTO_NAMES[p]}",
            ],
            [f"against an image of {_PHOTO_NAMES[p]}"],
        )
        for p in PHOTOS
    },
}
STYLE_WORDS: dict[str, Phr] = {
    "plain": (["in a plain style"], []),
    "black-and-white": (
        ["in black and white", "black-and-white footage", "in monochrome"],
        ["in grayscale"],
    ),
    "sepia": (
        ["in sepia", "sepia-toned", "in an old sepia photo style"],
        ["with a vintage sepia tint"],
    ),
    "neon": (
        ["neon on dark", "in a glowing neon style", "as neon lights on a dark background"],
        ["in a synthwave neon look"],
    ),
    "pastel": (
        ["in pastel colors", "pastel style", "in a soft pastel palette"],
        ["in washed-out pastel tones"],
    ),
    "cartoon": (
        [
            "cartoon style with black outlines",
            "in a cartoon outline style",
            "drawn as an outlined cartoon",
        ],
        ["with comic-book outlines"],
    ),
}
LIGHTING_WORDS: dict[str, Phr] = {
    "day": (["in daylight", "during the day"], ["at midday"]),
    "dusk": (["at dusk", "in the evening light", "at twilight"], ["at sundown"]),
    "night": (["at night", "at nighttime"], ["after dark"]),
}
STYLE_CAPTION_NAME = {
    "black-and-white": "black and white",
    "neon": "neon on dark",
    "cartoon": "cartoon outline",
    "plain": "plain",
    "sepia": "sepia",
    "pastel": "pastel",
}
NUMBER_WORDS = {"two": 2, "three": 3}


def _motion_phrases(motion: str) -> Phr:
    if motion in _DIR_WORDS:
        tr = [f"{v} {{v}} {d}" for v in _MOVE_VERBS[0] for d in _DIR_WORDS[motion][0]]
        ho = [
            f"{v} {{v}} {d}"
            for v in _MOVE_VERBS[0] + _MOVE_VERBS[1]
            for d in _DIR_WORDS[motion][0] + _DIR_WORDS[motion][1]
        ]
        return tr, [p for p in ho if p not in tr]
    return MOTION_PHRASES[motion]


# --- writing captions ------------------------------------------------------------------------


class _Picker:
    """Chooses phrasings: train phrasings only, or held-out ones where a slot has them."""

    def __init__(self, rng: random.Random, heldout: bool):
        self.rng, self.heldout = rng, heldout

    def __call__(self, phr: Phr) -> str:
        train, held = phr
        if self.heldout and held and self.rng.random() < 0.7:
            return self.rng.choice(held)
        return self.rng.choice(train)


def _object_phrase(
    o: WorldObject, pick: _Picker, rng: random.Random, count: int
) -> tuple[str, str]:
    """(subject, action), e.g. ("a small red ball", "bounces quickly")."""
    shape = pick(SHAPE_WORDS[o.shape])
    words = []
    if rng.random() < 0.55:
        words.append(pick(SIZE_WORDS[o.size]))
    words.append(pick(COLOR_WORDS[o.color]))
    if count > 1:
        shape = PLURAL.get(shape, shape + "s")
    subject = " ".join([*words, shape])
    lead = {1: "an" if subject[0] in "aeiou" else "a", 2: "two", 3: "three"}[count]
    action = pick(_motion_phrases(o.motion))
    speed = pick(SPEED_WORDS[o.speed]) if o.motion != "still" and rng.random() < 0.7 else ""
    action = (
        action.replace("{s}", "s" if count == 1 else "")
        .replace("{es}", "es" if count == 1 else "")
        .replace("{v}", speed)
    )
    return f"{lead} {subject}", re.sub(r"\s+", " ", action).strip()


def _groups(scene: Scene) -> list[tuple[WorldObject, int]]:
    objs = list(scene.objects)
    if scene.grouped and len(objs) >= 2:
        return [(objs[0], 2), *((o, 1) for o in objs[2:])]
    return [(o, 1) for o in objs]


def caption(scene: Scene, seed: int | None = None, heldout: bool | None = None) -> str:
    """A natural sentence describing the scene; held-out scenes use held-out phrasings half the
    time (always when heldout=True)."""
    rng = random.Random(scene.seed * 7919 + 17 if seed is None else seed)
    if heldout is None:
        heldout = scene.split == "heldout" and rng.random() < 0.5
    pick = _Picker(rng, heldout)
    subjects = [" ".join(_object_phrase(o, pick, rng, n)) for o, n in _groups(scene)]
    objects = (
        subjects[0] if len(subjects) == 1 else (", ".join(subjects[:-1]) + " and " + subjects[-1])
    )
    env = pick(BACKGROUND_WORDS[scene.background])
    if scene.lighting != "day" or rng.random() < 0.2:
        env += " " + pick(LIGHTING_WORDS[scene.lighting])
    camera = (
        pick(CAMERA_WORDS[scene.camera]) if (scene.camera != "static" or rng.random() < 0.5) else ""
    )
    style = pick(STYLE_WORDS[scene.style]) if scene.style != "plain" else ""
    if heldout:
        text = f"{camera} as {objects} {env}" if camera else f"{env}, {objects}"
        text += f", {style}" if style else ""
    else:
        form = rng.randrange(3)
        if form == 0:
            text = (
                f"{objects} {env}"
                + (f". {camera}" if camera else "")
                + (f". {style}" if style else "")
            )
        elif form == 1:
            text = (
                f"{env}, {objects}"
                + (f", {camera}" if camera else "")
                + (f", {style}" if style else "")
            )
        else:
            text = (
                (f"{style}: " if style else "")
                + f"{objects} {env}"
                + (f", {camera}" if camera else "")
            )
    text = re.sub(r"\s+", " ", text).strip()
    return text[0].upper() + text[1:] + "."


def structured(scene: Scene, seed: int | None = None) -> dict[str, str]:
    """The prompt-guide form: subject, action, environment, camera, style."""
    rng = random.Random(scene.seed * 104729 + 3 if seed is None else seed)
    pick = _Picker(rng, False)
    phrases = [_object_phrase(o, pick, rng, n) for o, n in _groups(scene)]
    subjects = [s for s, _ in phrases]
    actions = [f"{s} {a}" for s, a in phrases]
    env = pick(BACKGROUND_WORDS[scene.background]) + " " + pick(LIGHTING_WORDS[scene.lighting])
    return {
        "subject": " and ".join(subjects),
        "action": " and ".join(actions),
        "environment": env,
        "camera": pick(CAMERA_WORDS[scene.camera]),
        "style": STYLE_CAPTION_NAME[scene.style],
    }


def structured_text(fields: dict[str, str]) -> str:
    return " ".join(f"{k.capitalize()}: {v}." for k, v in fields.items())


# --- reading prompts -------------------------------------------------------------------------


@dataclass
class ExpectedObject:
    shape: str | None
    color: str | None
    size: str | None
    motion: str | None
    speed: str | None


@dataclass
class Expected:
    """What a prompt asks for; None marks a dimension the prompt does not say (unscorable)."""

    objects: list[ExpectedObject] = field(default_factory=list)
    background: str | None = None
    camera: str | None = None
    style: str | None = None
    lighting: str | None = None
    problems: list[str] = field(default_factory=list)


def _alternation(words: dict[str, list[str]]) -> tuple[re.Pattern, dict[str, str]]:
    lookup = {w.lower(): key for key, ws in words.items() for w in ws}
    alts = sorted(lookup, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(a) for a in alts) + r")(?![\w-])"), lookup


def _all(phr: dict[str, Phr]) -> dict[str, list[str]]:
    return {k: v[0] + v[1] for k, v in phr.items()}


def _norm_phrase(p: str) -> str:
    return re.sub(r"\s+", " ", p.replace("{s}", "").replace("{es}", "").replace("{v}", "")).strip()


def _motion_lookup() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in list(_DIR_WORDS) + list(MOTION_PHRASES):
        tr, ho = _motion_phrases(m)
        forms = set()
        for p in tr + ho:
            forms.add(_norm_phrase(p))  # plural form
            forms.add(_norm_phrase(p.replace("{s}", "s").replace("{es}", "es")))
        out[m] = sorted(forms)
    return out


_CAMERA_RE = _alternation(_all(CAMERA_WORDS))
_BG_RE = _alternation(_all(BACKGROUND_WORDS))
_STYLE_RE = _alternation({k: v + [STYLE_CAPTION_NAME[k]] for k, v in _all(STYLE_WORDS).items()})
_LIGHT_RE = _alternation(_all(LIGHTING_WORDS))
_MOTION_RE = _alternation(_motion_lookup())
_SPEED_RE = _alternation(_all(SPEED_WORDS))
_SIZE_WORDS_ALL = _all(SIZE_WORDS)
_COLOR_WORDS_ALL = _all(COLOR_WORDS)
_SHAPE_WORDS_ALL = {
    k: v + [PLURAL.get(w, w + "s") for w in v] for k, v in _all(SHAPE_WORDS).items()
}


def _group(words: dict[str, list[str]]) -> str:
    alts = sorted({w for ws in words.values() for w in ws}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(a) for a in alts) + ")"


_MENTION_RE = re.compile(
    r"(?<![\w-])(?:(?P<count>a|an|one|the|two|three)\s+)?"
    rf"(?:(?P<size>{_group(_SIZE_WORDS_ALL)})\s+)?"
    rf"(?:(?P<color>{_group(_COLOR_WORDS_ALL)})\s+)?"
    rf"(?:(?P<size2>{_group(_SIZE_WORDS_ALL)})\s+)?"
    rf"(?P<shape>{_group(_SHAPE_WORDS_ALL)})(?![\w-])"
)


def _rev(words: dict[str, list[str]]) -> dict[str, str]:
    return {w: k for k, ws in words.items() for w in ws}


_SIZE_OF, _COLOR_OF, _SHAPE_OF = (
    _rev(_SIZE_WORDS_ALL),
    _rev(_COLOR_WORDS_ALL),
    _rev(_SHAPE_WORDS_ALL),
)


def _take(
    text: str, pattern: re.Pattern, lookup: dict[str, str], blank: str = " | "
) -> tuple[str | None, str, bool]:
    """Find one value of a slot and blank it out; (value, rest, conflicting?)."""
    found = {lookup[m.group(1)] for m in pattern.finditer(text)}
    rest = re.sub(r"\s+", " ", pattern.sub(blank, text))
    if len(found) > 1:
        return None, rest, True
    return (found.pop() if found else None), rest, False


def parse(prompt: str) -> Expected:
    """Read a prompt (natural or structured) into the expected scene with the caption words."""
    text = " " + re.sub(r"\s+", " ", prompt.lower()) + " "
    exp = Expected()
    fields = dict(re.findall(r"(subject|action|environment|camera|style):\s*([^.]*)", text))
    if "action" in fields:  # the structured form: objects live in its action field
        text = " . ".join(v for k, v in fields.items() if k != "subject")
    for slot, pattern, lookup in (
        ("camera", *_CAMERA_RE),
        ("background", *_BG_RE),
        ("style", *_STYLE_RE),
        ("lighting", *_LIGHT_RE),
    ):
        value, text, conflict = _take(text, pattern, lookup)
        setattr(exp, slot, value)
        if conflict:
            exp.problems.append(f"{slot}: the prompt names more than one")
    mentions = list(_MENTION_RE.finditer(text))
    for i, m in enumerate(mentions):
        end = mentions[i + 1].start() if i + 1 < len(mentions) else len(text)
        segment = text[m.end() : end]
        speed, segment, _ = _take(segment, *_SPEED_RE, blank=" ")
        motion, _, conflict = _take(segment, *_MOTION_RE)
        if conflict:
            exp.problems.append(f"object {i}: more than one motion")
        shape_word = m.group("shape")
        count = {"two": 2, "three": 3}.get(m.group("count") or "", 1)
        size = m.group("size") or m.group("size2")
        obj = ExpectedObject(
            shape=_SHAPE_OF[shape_word],
            color=_COLOR_OF.get(m.group("color") or ""),
            size=_SIZE_OF.get(size or ""),
            motion=motion,
            speed=speed,
        )
        exp.objects.extend(ExpectedObject(**vars(obj)) for _ in range(count))
    if not exp.objects:
        exp.problems.append("no object found in the prompt")
    return exp
