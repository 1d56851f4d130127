"""The zoo's catalog: TenSet's network families, their variants' names and shapes, and building a variant.

A network variant is named ``<family>-b<batch>-<size>``, e.g. ``resnet_50-b1-224`` or
``bert_base-b1-128``. ``size`` is the image side for image networks, the sequence length for BERT, the
output image side for the DCGAN generator (its input is always a 100-value latent vector, as in TenSet)
and the spatial side for ``resnet3d_18``. :func:`list_networks` gives the canonical variants (TenSet's
batch sizes and sizes); :func:`parse_network` also accepts other batch sizes and sizes the architecture
allows, which keeps tests fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from . import bert, dcgan, densenet, inception, mobilenet, resnet

BATCHES = (1, 2, 4, 8)
IMAGE_SIZES = (224, 240, 256)
SEQ_LENS = (64, 128, 256, 512)


@dataclass(frozen=True)
class Family:
    """Metadata of a network family.

    ``input`` is ``image`` (``(b, 3, s, s)`` float32), ``tokens`` (``(b, s)`` int64), ``latent``
    (``(b, 100)`` float32) or ``video`` (``(b, 3, s, s, 16)`` float32, TenSet's literal ``r3d_18`` shape).
    """

    name: str
    input: str
    default_size: int
    sizes: tuple[int, ...]
    batches: tuple[int, ...]
    min_size: int
    max_size: int | None
    size_multiple: int
    description: str
    make: Callable[[int], nn.Module]

    def check_size(self, size: int) -> str | None:
        """Why ``size`` is not valid for this family, or None when it is."""
        if size < self.min_size:
            return f"size must be at least {self.min_size}"
        if self.max_size is not None and size > self.max_size:
            return f"size must be at most {self.max_size}"
        if size % self.size_multiple:
            return f"size must be a multiple of {self.size_multiple}"
        return None


def _image(name: str, make: Callable[[], nn.Module], description: str, sizes: tuple[int, ...] = IMAGE_SIZES,
           min_size: int = 32) -> Family:
    return Family(name, "image", sizes[0], sizes, BATCHES, min_size, None, 1, description, lambda _size: make())


def _bert(name: str) -> Family:
    cfg = bert.CONFIGS[name]
    description = f"BERT encoder, {cfg.layers} layers, hidden {cfg.hidden}, {cfg.heads} heads (no pooler)"
    return Family(name, "tokens", 128, SEQ_LENS, BATCHES, 1, cfg.max_positions, 1, description,
                  lambda _size: bert.bert(name))


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        _image("resnet_18", resnet.resnet_18, "ResNet-18"),
        _image("resnet_50", resnet.resnet_50, "ResNet-50 (v1.5)"),
        _image("mobilenet_v2", mobilenet.mobilenet_v2, "MobileNetV2 1.0"),
        _image("mobilenet_v3", mobilenet.mobilenet_v3, "MobileNetV3-Large 1.0"),
        _image("wide_resnet_50", resnet.wide_resnet_50, "Wide ResNet-50-2"),
        _image("resnext_50", resnet.resnext_50, "ResNeXt-50 32x4d"),
        _image("densenet_121", densenet.densenet_121, "DenseNet-121"),
        _image("inception_v3", inception.inception_v3, "Inception-v3 (no aux classifier)", (299,), 75),
        Family("resnet3d_18", "video", 112, (112, 128, 144), BATCHES, 16, None, 1,
               "R3D-18 video ResNet, input (b, 3, s, s, 16) as in TenSet", lambda _size: resnet.resnet3d_18()),
        _bert("bert_tiny"),
        _bert("bert_medium"),
        _bert("bert_base"),
        _bert("bert_large"),
        Family("dcgan", "latent", 64, (64, 80, 96), BATCHES, 16, None, 16,
               "DCGAN generator (TVM relay.testing), latent 100 -> 3 x s x s", dcgan.dcgan),
    )
}

_NAME = re.compile(r"^(?P<family>[a-z0-9_]+)-b(?P<batch>[0-9]+)-(?P<size>[0-9]+)$")


@dataclass(frozen=True)
class NetworkSpec:
    """A network variant: its name, family, batch size, and input tensor's shape and dtype."""

    name: str
    family: str
    batch_size: int
    size: int
    input_shape: tuple[int, ...]
    input_dtype: str


def network_name(family: str, batch_size: int = 1, size: int | None = None) -> str:
    """The variant name ``<family>-b<batch>-<size>`` (size defaults to the family's default)."""
    fam = _family(family)
    return f"{family}-b{batch_size}-{fam.default_size if size is None else size}"


def list_networks(family: str | None = None) -> list[str]:
    """All canonical variant names, or those of one family."""
    families = [_family(family)] if family is not None else list(FAMILIES.values())
    return [f"{f.name}-b{b}-{s}" for f in families for b in f.batches for s in f.sizes]


def parse_network(name: str) -> NetworkSpec:
    """Parse a variant name; raise ValueError naming the bad name (and the families, when unknown)."""
    match = _NAME.match(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            f"bad network name {name!r}: expected '<family>-b<batch>-<size>', e.g. 'resnet_50-b1-224'; "
            f"families are {', '.join(FAMILIES)}"
        )
    family = _family(match["family"], name)
    batch, size = int(match["batch"]), int(match["size"])
    if batch < 1:
        raise ValueError(f"bad network name {name!r}: batch size must be at least 1")
    problem = family.check_size(size)
    if problem:
        raise ValueError(f"bad network name {name!r}: {family.name} {problem} (canonical sizes: {family.sizes})")
    shape: tuple[int, ...] = {
        "image": (batch, 3, size, size),
        "tokens": (batch, size),
        "latent": (batch, dcgan.LATENT),
        "video": (batch, 3, size, size, 16),
    }[family.input]
    dtype = "int64" if family.input == "tokens" else "float32"
    return NetworkSpec(name, family.name, batch, size, shape, dtype)


def build_model(name: str) -> tuple[nn.Module, torch.Tensor]:
    """The model (random weights from ``torch.manual_seed(0)``, eval mode) and an example input."""
    spec = parse_network(name)
    torch.manual_seed(0)
    model = FAMILIES[spec.family].make(spec.size).eval()
    generator = torch.Generator().manual_seed(0)
    if spec.input_dtype == "int64":
        vocab = model.config.vocab  # type: ignore[union-attr]
        example = torch.randint(0, vocab, spec.input_shape, dtype=torch.int64, generator=generator)
    else:
        example = torch.randn(spec.input_shape, generator=generator)
    return model, example


def network_row(name: str) -> dict:
    """The ``networks`` table row of a variant (``source`` = ``zoo``)."""
    spec = parse_network(name)
    return {
        "network": spec.name,
        "family": spec.family,
        "batch_size": spec.batch_size,
        "input_shape": list(spec.input_shape),
        "input_dtype": spec.input_dtype,
        "source": "zoo",
    }


def _family(family: str, name: str | None = None) -> Family:
    if family not in FAMILIES:
        subject = f"bad network name {name!r}: unknown family {family!r}" if name else f"unknown family {family!r}"
        raise ValueError(f"{subject}; families are {', '.join(FAMILIES)}")
    return FAMILIES[family]


__all__ = ["FAMILIES", "Family", "NetworkSpec", "build_model", "list_networks", "network_name", "network_row",
           "parse_network"]
