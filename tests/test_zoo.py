"""The network zoo: names, metadata, and that every family builds and runs."""

from __future__ import annotations

import pytest
import torch

from tenset_study import zoo
from tenset_study.data.dataset import to_arrow

# The smallest input each family accepts quickly (batch 1): forward passes stay well under a second.
SMALL_SIZES = {"image": 32, "tokens": 8, "latent": 16, "video": 16}
FAST_FAMILIES = [f for f in zoo.FAMILIES if f != "bert_large"]


def _small_name(family: str) -> str:
    fam = zoo.FAMILIES[family]
    return zoo.network_name(family, 1, max(SMALL_SIZES[fam.input], fam.min_size))


def _forward(name: str) -> torch.Tensor:
    model, example = zoo.build_model(name)
    assert not model.training
    with torch.no_grad():
        return model(example)


@pytest.mark.parametrize("family", FAST_FAMILIES)
def test_every_family_runs_forward(family: str) -> None:
    name = _small_name(family)
    out = _forward(name)
    spec = zoo.parse_network(name)
    assert out.shape[0] == spec.batch_size
    assert torch.isfinite(out).all()


@pytest.mark.slow
def test_bert_large_runs_forward() -> None:
    out = _forward("bert_large-b1-8")
    assert out.shape == (1, 8, 1024)


def test_output_shapes_match_the_architectures() -> None:
    assert _forward("resnet_18-b1-32").shape == (1, 1000)
    assert _forward("inception_v3-b1-75").shape == (1, 1000)
    assert _forward("resnet3d_18-b1-16").shape == (1, 400)
    assert _forward("bert_tiny-b2-8").shape == (2, 8, 128)
    assert _forward("dcgan-b1-64").shape == (1, 3, 64, 64)


def test_parameter_counts_match_torchvision_and_huggingface() -> None:
    """Parameter counts of the published models (torchvision; BERT without its pooler)."""
    expected = {"resnet_18": 11_689_512, "resnet_50": 25_557_032, "mobilenet_v2": 3_504_872,
                "mobilenet_v3": 5_483_032, "resnext_50": 25_028_904, "densenet_121": 7_978_856,
                "wide_resnet_50": 68_883_240, "bert_tiny": 4_369_408, "bert_base": 108_891_648}
    for family, count in expected.items():
        model, _ = zoo.build_model(_small_name(family))
        assert sum(p.numel() for p in model.parameters()) == count, family


def test_build_model_is_deterministic() -> None:
    m1, x1 = zoo.build_model("mobilenet_v2-b1-32")
    m2, x2 = zoo.build_model("mobilenet_v2-b1-32")
    assert torch.equal(x1, x2)
    with torch.no_grad():
        assert torch.equal(m1(x1), m2(x2))


def test_bert_takes_int64_token_ids() -> None:
    _, ids = zoo.build_model("bert_tiny-b2-64")
    assert ids.dtype == torch.int64 and ids.shape == (2, 64)
    assert int(ids.min()) >= 0 and int(ids.max()) < 30522


def test_list_and_parse_round_trip() -> None:
    names = zoo.list_networks()
    assert len(names) == len(set(names))
    for name in names:
        spec = zoo.parse_network(name)
        assert spec.name == name
        assert zoo.network_name(spec.family, spec.batch_size, spec.size) == name
        assert spec.batch_size in zoo.FAMILIES[spec.family].batches
    assert "resnet_50-b1-224" in names and "bert_base-b1-128" in names and "inception_v3-b8-299" in names
    assert set(zoo.list_networks("bert_base")) == {f"bert_base-b{b}-{s}" for b in (1, 2, 4, 8)
                                                    for s in (64, 128, 256, 512)}


def test_parse_network_shapes() -> None:
    assert zoo.parse_network("resnet_50-b4-240").input_shape == (4, 3, 240, 240)
    bert = zoo.parse_network("bert_base-b2-128")
    assert bert.input_shape == (2, 128) and bert.input_dtype == "int64"
    assert zoo.parse_network("dcgan-b8-96").input_shape == (8, 100)
    assert zoo.parse_network("resnet3d_18-b1-112").input_shape == (1, 3, 112, 112, 16)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("vgg_19-b1-224", "unknown family 'vgg_19'"),
        ("resnet_18-224", "expected '<family>-b<batch>-<size>'"),
        ("resnet_18-b0-224", "batch size must be at least 1"),
        ("bert_base-b1-1024", "at most 512"),
        ("dcgan-b1-70", "multiple of 16"),
        ("inception_v3-b1-64", "at least 75"),
    ],
)
def test_bad_names_give_clear_errors(name: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        zoo.parse_network(name)
    assert repr(name) in str(err.value)
    assert message in str(err.value)


def test_unknown_family_lists_families() -> None:
    with pytest.raises(ValueError, match="families are resnet_18, resnet_50"):
        zoo.parse_network("alexnet-b1-224")
    with pytest.raises(ValueError, match="unknown family"):
        zoo.list_networks("alexnet")


def test_network_row_matches_schema() -> None:
    row = zoo.network_row("bert_tiny-b4-256")
    assert row == {"network": "bert_tiny-b4-256", "family": "bert_tiny", "batch_size": 4,
                   "input_shape": [4, 256], "input_dtype": "int64", "source": "zoo"}
    table = to_arrow("networks", [row, zoo.network_row("resnet_18-b1-224")])
    assert table.num_rows == 2
