"""The latent cache: caption embeddings stored beside the shards match the text encoder."""

import random

import pytest
import torch

from vidgen.config import VAE_PRESETS
from vidgen.data import cache
from vidgen.models.text_encoder import TextEncoder
from vidgen.models.vae import VideoVAE


def test_stored_caption_embeddings_match_the_encoder(tmp_path):
    torch.manual_seed(0)
    vae = VideoVAE(VAE_PRESETS["tiny"])
    cache.build(vae, tmp_path, "64x32", clips=3, frames=9, fps=8.0, log=lambda _: None)
    enc = TextEncoder()
    cache.encode_captions(tmp_path, "64x32", enc, log=lambda _: None)
    stored = tmp_path / "64x32_00000.text.safetensors"
    assert stored.is_file() and not list(tmp_path.glob(".*.tmp"))
    mtime = stored.stat().st_mtime_ns
    cache.encode_captions(tmp_path, "64x32", enc, log=lambda _: None)  # done: nothing rewritten
    assert stored.stat().st_mtime_ns == mtime

    lc = cache.LatentCache(tmp_path, "64x32")
    assert len(lc) == 3  # the .text file is not read as a shard of latents
    z, caps, ids = lc.batch(random.Random(1), 8, structured_prob=0.5)
    assert z.shape[0] == 8 and [lc.clips[i]["captions"][v] for i, v in ids] == caps
    assert any(v == len(lc.clips[i]["captions"]) - 1 for i, v in ids)  # the structured form too
    for (s, p), (s_ref, p_ref) in zip(lc.embeddings(ids), enc.entries(caps), strict=True):
        assert s.shape == s_ref.shape and p.shape == p_ref.shape
        torch.testing.assert_close(s.float(), s_ref, atol=0.02, rtol=0.01)  # stored in bf16
        torch.testing.assert_close(p, p_ref, atol=1e-4, rtol=1e-4)


def test_embeddings_of_another_shard_are_refused(tmp_path):
    torch.manual_seed(0)
    vae = VideoVAE(VAE_PRESETS["tiny"])
    cache.build(vae, tmp_path, "64x32", clips=2, frames=9, fps=8.0, log=lambda _: None)
    cache.encode_captions(tmp_path, "64x32", TextEncoder(), log=lambda _: None)
    (tmp_path / "64x32_00000.safetensors").unlink()  # the shard is rebuilt with more clips
    cache.build(vae, tmp_path, "64x32", clips=3, frames=9, fps=8.0, log=lambda _: None)
    with pytest.raises(ValueError, match="holds 8 captions but its shard has 12"):
        cache.LatentCache(tmp_path, "64x32")


def test_object_masks_cover_every_pixel_an_object_changes(tmp_path):
    """The latent cells `object_masks` marks hold every pixel that differs from the scene
    rendered without its objects, frame by frame in the autoencoder's time grouping."""
    import dataclasses

    import numpy as np

    from vidgen.world.render import render
    from vidgen.world.scene import sample_scene

    torch.manual_seed(0)
    vae = VideoVAE(VAE_PRESETS["tiny"])  # 4x in time, 8x in space
    cache.build(vae, tmp_path, "64x32", clips=6, frames=9, fps=8.0, log=lambda _: None)
    lc = cache.LatentCache(tmp_path, "64x32")
    masks = lc.object_masks("64x32", frames=9, fps=8.0, time_factor=4)
    assert masks.shape == (6, 3, 4, 8) and 0 < masks.float().mean() < 0.9
    seen = 0
    for clip, mask in zip(lc.clips, masks, strict=True):
        scene = sample_scene(clip["seed"], "train", aspect=2.0, duration=1.0)
        full, _ = render(scene, 64, 32, 9, 8.0)
        empty, _ = render(dataclasses.replace(scene, objects=()), 64, 32, 9, 8.0)
        changed = np.abs(full.astype(int) - empty.astype(int)).max(-1) > 0  # (F, H, W)
        groups = [changed[:1], *(changed[1 + 4 * j : 5 + 4 * j] for j in range(2))]
        cells = np.stack([g.any(0).reshape(4, 8, 8, 8).any((1, 3)) for g in groups])
        assert not (cells & ~mask.numpy()).any()
        seen += int(cells.sum())
    assert seen  # some objects are on screen


def test_processes_share_the_shards_and_build_what_one_process_builds(tmp_path, monkeypatch):
    """part=(rank, world): each process under torchrun builds every world-th shard; together
    they write the same cache as one process, and each encodes only its own shards' captions."""
    monkeypatch.setattr(cache, "SHARD", 2)
    torch.manual_seed(0)
    vae = VideoVAE(VAE_PRESETS["tiny"])
    quiet = {"frames": 9, "fps": 8.0, "log": lambda _: None}
    one = cache.build(vae, tmp_path / "one", "64x32", clips=5, **quiet)
    assert [p.name for p in one] == [f"64x32_{k:05d}.safetensors" for k in range(3)]
    two = tmp_path / "two"
    paths = cache.build(vae, two, "64x32", clips=5, part=(1, 2), **quiet)
    assert [p.name for p in paths] == [p.name for p in one]  # every shard, built here or not
    assert [p.name for p in sorted(two.glob("64x32_*"))] == ["64x32_00001.safetensors"]
    cache.encode_captions(two, "64x32", TextEncoder(), log=lambda _: None, paths=paths[1::2])
    assert [p.name for p in two.glob("*.text.safetensors")] == ["64x32_00001.text.safetensors"]
    cache.build(vae, two, "64x32", clips=5, part=(0, 2), **quiet)
    a, b = cache.LatentCache(tmp_path / "one", "64x32"), cache.LatentCache(two, "64x32")
    assert a.clips == b.clips and torch.equal(a.latents, b.latents)
