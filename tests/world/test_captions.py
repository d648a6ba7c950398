"""Captions and the prompt parser: every phrasing reads back to the scene it describes."""

from vidgen.world.captions import caption, parse, structured, structured_text
from vidgen.world.scene import sample_scene


def _objects(scene):
    return sorted((o.color, o.shape, o.motion, o.size) for o in scene.objects)


def _check(scene, text):
    exp = parse(text)
    assert not exp.problems, (text, exp.problems)
    got = sorted(
        (o.color, o.shape, o.motion, o.size or s)
        for o, s in zip(
            sorted(exp.objects, key=lambda o: (o.color, o.shape, o.motion)),
            [o.size for o in sorted(scene.objects, key=lambda o: (o.color, o.shape, o.motion))],
            strict=True,
        )
    )
    assert got == _objects(scene), text
    assert exp.background == scene.background, text
    assert exp.camera in (scene.camera, None if scene.camera == "static" else "x"), text
    assert exp.style in (scene.style, None if scene.style == "plain" else "x"), text
    assert exp.lighting in (scene.lighting, None if scene.lighting == "day" else "x"), text


def test_natural_structured_and_heldout_phrasings_round_trip():
    for seed in range(600):
        scene = sample_scene(seed, "heldout" if seed % 3 == 0 else "train")
        _check(scene, caption(scene))
        _check(scene, caption(scene, heldout=True))
        _check(scene, structured_text(structured(scene)))


def test_structured_form_has_the_five_fields():
    fields = structured(sample_scene(3))
    assert list(fields) == ["subject", "action", "environment", "camera", "style"]


def test_unparseable_prompt_is_reported_not_guessed():
    exp = parse("a beautiful landscape with mountains")
    assert exp.objects == [] and "no object found in the prompt" in exp.problems
    assert exp.camera is None and exp.style is None and exp.background is None


def test_conflicting_slot_is_unscorable():
    exp = parse("a red ball moves left, the camera pans left and the camera zooms in")
    assert exp.camera is None and any("camera" in p for p in exp.problems)
