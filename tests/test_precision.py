"""Device and precision names: what `--device`, `--precision` and `device:` in configs accept."""

import pytest
import torch

from vidgen import precision


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:1"])
def test_device_names_are_accepted(name):
    assert precision.check_device(name) == name


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "mps", ""])
def test_other_device_names_are_refused_naming_the_field(name):
    with pytest.raises(ValueError, match="--device must be one of auto, cpu, cuda or cuda:N"):
        precision.check_device(name, "--device")


def test_auto_is_a_gpu_only_where_torch_sees_one():
    gpu = torch.cuda.is_available()
    assert precision.device("auto").type == ("cuda" if gpu else "cpu")
    assert precision.device("cpu") == torch.device("cpu")
    if not gpu:
        with pytest.raises(ValueError, match="sees 0 CUDA GPU"):
            precision.device("cuda:0")


def test_auto_precision_asks_the_device():
    cpu = precision.resolve("auto", torch.device("cpu"))
    assert (
        cpu
        == precision.resolve("auto")
        == (torch.bfloat16 if precision.fast_bf16() else torch.float32)
    )
    assert precision.resolve("float32", torch.device("cpu")) == torch.float32
