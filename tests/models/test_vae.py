"""The causal video autoencoder: causality, image-as-frame-0, shapes, exact chunked decoding."""

import dataclasses

import pytest
import torch

from vidgen.config import VAE_PRESETS
from vidgen.models.vae import VideoVAE, psnr, roundtrip


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    m = VideoVAE(VAE_PRESETS["tiny"]).eval()
    with torch.no_grad():  # leave the zero init so every path carries signal
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


def test_shapes(vae):
    x = torch.randn(2, 3, 9, 32, 48)
    z, logvar = vae.encode(x)
    assert z.shape == (2, 8, 3, 4, 6) and logvar.shape == z.shape  # tiny: 4x in time, 8x in space
    assert vae.decode(z).shape == x.shape


def test_frame_zero_alone_encodes_to_the_first_latent(vae):
    x = torch.randn(1, 3, 9, 32, 32)
    with torch.no_grad():
        full = vae.encode(x)[0]
        image = vae.encode(x[:, :, :1])[0]
    assert image.shape[2] == 1
    torch.testing.assert_close(full[:, :, :1], image, atol=1e-5, rtol=1e-5)


def test_later_frames_never_change_earlier_latents(vae):
    x = torch.randn(1, 3, 9, 32, 32)
    y = x.clone()
    y[:, :, 5:] = torch.randn_like(y[:, :, 5:])  # frames of latent 2 only
    with torch.no_grad():
        a, b = vae.encode(x)[0], vae.encode(y)[0]
        torch.testing.assert_close(a[:, :, :2], b[:, :, :2])
        assert (a[:, :, 2] - b[:, :, 2]).abs().max() > 1e-3
        da, db = vae.decode(a), vae.decode(b)
    torch.testing.assert_close(da[:, :, :5], db[:, :, :5])  # decoding is causal too


def test_chunked_decode_equals_full(vae):
    z = torch.randn(1, 8, 6, 2, 2)
    with torch.no_grad():
        torch.testing.assert_close(vae.decode(z, chunk=2), vae.decode(z), atol=1e-5, rtol=1e-5)


def test_roundtrip_is_the_clamped_decode_of_the_latent_means(vae):
    x = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    y, enc_s, dec_s = roundtrip(vae, x, bf16=False)
    with torch.no_grad():
        want = vae.decode(vae.encode(x)[0]).clamp(-1, 1)
    torch.testing.assert_close(y, want, atol=1e-5, rtol=1e-5)
    assert y.dtype == torch.float32 and enc_s > 0 and dec_s > 0
    assert psnr(1.0) == pytest.approx(6.0206, abs=1e-4)  # peak to peak 2: 10 log10(4 / mse)
    assert psnr(0.0) == pytest.approx(126.02, abs=0.01)  # a perfect copy is finite


@pytest.mark.parametrize("shape", [(1, 3, 8, 32, 32), (1, 3, 9, 30, 32), (1, 1, 9, 32, 32)])
def test_bad_shapes_are_refused(vae, shape):
    with pytest.raises(ValueError, match="1 \\+ 4k"):
        vae.encode(torch.randn(*shape))


def test_a_finer_decoder_keeps_shapes_causality_and_exact_chunks():
    torch.manual_seed(0)
    m = VideoVAE(dataclasses.replace(VAE_PRESETS["tiny"], dec_widths=(24, 16, 8))).eval()
    assert m.cfg.decoder_patch == 2  # tiny's space factor 8 = 2 x two upsamplings
    with torch.no_grad():
        for p in m.decoder.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        z = torch.randn(1, 8, 6, 2, 2)
        out = m.decode(z)
        assert out.shape == (1, 3, 21, 16, 16)
        torch.testing.assert_close(m.decode(z, chunk=2), out, atol=1e-5, rtol=1e-5)
        z2 = z.clone()
        z2[:, :, 3:] = torch.randn_like(z2[:, :, 3:])
        torch.testing.assert_close(m.decode(z2)[:, :, :9], out[:, :, :9])  # latents 0-2


def test_decoder_levels_must_undo_the_space_factor():
    cfg = dataclasses.replace(VAE_PRESETS["tiny"], dec_widths=(32, 24, 16, 8, 4))
    with pytest.raises(ValueError, match="dec_widths"):
        VideoVAE(cfg)


def test_a_new_decoder_trains_on_a_given_encoder(tmp_path, monkeypatch):
    from vidgen import config
    from vidgen.models.vae import vae_meta
    from vidgen.training import checkpoint, tasks

    torch.manual_seed(1)
    base = VideoVAE(VAE_PRESETS["tiny"])
    checkpoint.save(tmp_path / "vae.safetensors", base.state_dict(), vae_meta(base.cfg))
    finer = dataclasses.replace(VAE_PRESETS["tiny"], dec_widths=(24, 16, 8))
    monkeypatch.setitem(config.VAE_PRESETS, "finer", finer)
    init = str(tmp_path / "vae.safetensors")
    task = tasks.vae_task(config.TrainVAEConfig(vae="finer", init=init, freeze_encoder=True))
    for k, v in base.encoder.state_dict().items():
        torch.testing.assert_close(task.model.encoder.state_dict()[k], v)
    with pytest.raises(ValueError, match="freeze_encoder=true"):
        tasks.vae_task(config.TrainVAEConfig(vae="finer", init=init))


def test_widening_the_latents_keeps_reconstructions_and_trains_the_new_channels(
    vae, tmp_path, monkeypatch
):
    from vidgen import config
    from vidgen.models.vae import vae_meta
    from vidgen.training import checkpoint, tasks

    checkpoint.save(tmp_path / "vae.safetensors", vae.state_dict(), vae_meta(vae.cfg))
    wide = dataclasses.replace(VAE_PRESETS["tiny"], latent_channels=12)
    monkeypatch.setitem(config.VAE_PRESETS, "wide", wide)
    init = str(tmp_path / "vae.safetensors")
    model = tasks.vae_task(config.TrainVAEConfig(vae="wide", init=init)).model.eval()
    x = torch.randn(1, 3, 9, 32, 32)
    with torch.no_grad():
        z, logvar = model.encode(x)
        z0, logvar0 = vae.encode(x)
        torch.testing.assert_close(z[:, :8], z0)
        torch.testing.assert_close(logvar[:, :8], logvar0)
        torch.testing.assert_close(model.decode(z), vae.decode(z0))
    assert z[:, 8:].abs().sum() > 0  # the new channels carry an encoding the decoder can learn
    y, _ = model(x)
    (y - x).pow(2).mean().backward()
    assert model.decoder.conv_in.weight.grad[:, 8:].abs().sum() > 0
    narrow = dataclasses.replace(VAE_PRESETS["tiny"], widths=(16, 32), latent_channels=12)
    monkeypatch.setitem(config.VAE_PRESETS, "narrow", narrow)
    with pytest.raises(ValueError, match="otherwise the same config"):
        tasks.vae_task(config.TrainVAEConfig(vae="narrow", init=init))


def test_spatial_conv_is_the_3d_conv_and_trains_in_bf16():
    from vidgen.models.vae import spatial_conv

    torch.manual_seed(0)
    conv = spatial_conv(192, 96, stride=2)
    ref = torch.nn.Conv3d(192, 96, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(2, 192, 3, 16, 16)
    assert torch.allclose(conv(x), ref(x), atol=1e-4)
    # the case whose bf16 conv3d weight gradient came back NaN on an AMX CPU (one thread, 4
    # images at 32x32; nn.Conv3d gave NaN 10 times in 10 there)
    conv, threads = spatial_conv(192, 96), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = conv(torch.randn(4, 192, 1, 32, 32))
        y.float().square().mean().backward()
    finally:
        torch.set_num_threads(threads)
    assert torch.isfinite(conv.weight.grad).all() and conv.weight.grad.abs().sum() > 0
