"""The renderer: sizes, determinism, anti-aliasing and physically consistent motion."""

import numpy as np
import pytest

from vidgen.world.render import object_track, render
from vidgen.world.scene import Scene, WorldObject, sample_scene


def _scene(objects, background="solid:white", camera="static", **kw):
    return Scene(
        objects=tuple(objects),
        background=background,
        camera=camera,
        style=kw.get("style", "plain"),
        lighting="day",
        aspect=kw.get("aspect", 1.0),
        duration=2.0,
        seed=5,
    )


def _obj(**kw):
    base = dict(
        shape="ball", color="red", size="medium", motion="still", speed="slowly", x=0.5, y=0.5
    )
    return WorldObject(**{**base, **kw})


def test_same_seed_same_frames_byte_for_byte():
    a, _ = render(sample_scene(11), 64, 64, 9, 8)
    b, _ = render(sample_scene(11), 64, 64, 9, 8)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("w,h", [(16, 16), (64, 48), (128, 224), (512, 512)])
def test_any_multiple_of_16(w, h):
    scene = sample_scene(3, aspect=w / h)
    frames, truth = render(scene, w, h, 3, 12)
    assert frames.shape == (3, h, w, 3) and frames.dtype == np.uint8
    assert len(truth["objects"]) == len(scene.objects)


@pytest.mark.parametrize(
    "w,h,frames,fps,field",
    [
        (100, 64, 5, 8, "width"),
        (64, 0, 5, 8, "height"),
        (64, 64, -1, 8, "frames"),
        (64, 64, 5, 0, "fps"),
        (2048, 64, 5, 8, "width"),
    ],
)
def test_bad_sizes_are_refused_by_name(w, h, frames, fps, field):
    with pytest.raises(ValueError, match=field):
        render(sample_scene(0, aspect=1.0), w, h, frames, fps)


def test_edges_are_anti_aliased():
    frames, _ = render(_scene([_obj(size="large")]), 64, 64, 1, 8)
    red = frames[0, :, :, 1].astype(int)  # green channel: 244 on white, 38 inside red
    partial = ((red > 60) & (red < 220)).sum()
    assert partial > 20  # a hard-edged disc has none


def test_depth_order_occludes():
    back = _obj(color="blue", depth=0)
    front = _obj(color="red", depth=1, x=0.55)
    frames, _ = render(_scene([back, front]), 64, 64, 1, 8)
    assert tuple(frames[0, 32, 35]) == (220, 38, 38)


def test_bounce_loses_energy():
    o = _obj(motion="bounce", y=0.2)
    t = np.linspace(0, 4, 400, dtype=np.float32)
    y = object_track(o, _scene([o]), t).y
    tops = [y[i] for i in range(1, len(y) - 1) if y[i] < y[i - 1] and y[i] <= y[i + 1]]
    assert len(tops) >= 2 and all(b > a for a, b in zip(tops, tops[1:], strict=False))


def test_camera_pan_moves_background_and_still_objects_together():
    scene = _scene([_obj()], background="checkerboard", camera="pan-left")
    frames, truth = render(scene, 64, 64, 9, 8)
    cx = np.array(truth["objects"][0]["center"])[:, 0]
    shift = cx[-1] - cx[0]
    assert shift > 5  # the camera pans left, so the world slides right
    row_a, row_b = frames[0, 5].astype(float), frames[-1, 5].astype(float)
    best = min(range(0, 20), key=lambda s: np.abs(row_a[: 64 - s] - row_b[s:]).mean())
    assert abs(best - shift) <= 1.0


def test_ground_truth_per_frame():
    frames, truth = render(sample_scene(4), 64, 64, 5, 8)
    for o in truth["objects"]:
        assert {"center", "box", "angle", "scale", "depth", "visible"} <= set(o)
        assert len(o["center"]) == 5
    assert len(truth["camera"]["zoom"]) == 5


@pytest.mark.parametrize("seed", range(12))
def test_object_pixels_hold_every_pixel_the_objects_change(seed):
    """`object_pixels` (from boxes, without rendering) covers every pixel where the scene differs
    from itself without objects, neon glow and cartoon outlines included, and little else."""
    import dataclasses

    from vidgen.world.render import object_pixels

    scene = sample_scene(seed, "train", aspect=1.0, duration=2.0)
    full, _ = render(scene, 64, 64, 9, 4.0)
    empty, _ = render(dataclasses.replace(scene, objects=()), 64, 64, 9, 4.0)
    changed = np.abs(full.astype(int) - empty.astype(int)).max(-1) > 0
    mask = object_pixels(scene, 64, 64, 9, 4.0)
    assert not (changed & ~mask).any()
    assert changed.any() and mask.mean() < 0.9  # boxes around the objects, not the frame
