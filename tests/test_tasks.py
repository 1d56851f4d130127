"""Task extraction from zoo networks (real torch.export + Relax + MetaSchedule, no mocks)."""

from __future__ import annotations

import json

import pytest
import torch

from tenset_study.collect import tasks
from tenset_study.programs import targets, workload
from tenset_study import zoo
from tenset_study.data.dataset import Dataset, to_arrow

CPU = targets.cpu_target(num_cores=2, mcpu="znver3")
GPU = targets.gpu_target("sm_90")
COMPUTE_OPS = {"conv2d", "group_conv2d", "depthwise_conv2d", "conv2d_transpose", "conv3d", "dense", "batch_matmul"}


@pytest.fixture(scope="module")
def bert() -> tasks.NetworkTasks:
    return tasks.extract_network_tasks("bert_tiny-b1-64", CPU)


@pytest.fixture(scope="module")
def resnet() -> tasks.NetworkTasks:
    return tasks.extract_network_tasks("resnet_18-b1-32", CPU)


def _check_tasks(result: tasks.NetworkTasks) -> None:
    ids = [t.task for t in result.tasks]
    assert ids and len(ids) == len(set(ids))
    for t in result.tasks:
        assert t.weight > 0
        assert t.row["kind"] == result.kind
        assert t.row["target"] == targets.target_json(result.target)
        if t.op in COMPUTE_OPS:
            assert t.row["flops"] > 0, t.task_name
    to_arrow("tasks", result.task_rows())
    to_arrow("network_tasks", result.network_task_rows())


def test_resnet_tasks(resnet: tasks.NetworkTasks) -> None:
    _check_tasks(resnet)
    assert resnet.network == zoo.network_row("resnet_18-b1-32")
    ops = {t.op for t in resnet.tasks}
    assert {"conv2d", "pool", "dense"} <= ops
    # Batch norms are folded: the stem is conv2d + bias add + relu, four operands (data, weight, bias, out).
    stem = [t for t in resnet.tasks if json.loads(t.row["arg_shapes"])[0] == [1, 3, 32, 32]]
    assert len(stem) == 1 and stem[0].op == "conv2d" and len(json.loads(stem[0].row["arg_shapes"])) == 4
    # 20 conv2d layers (17 + 3 downsampling 1x1) run as 15 distinct tasks; weights count every kernel.
    assert sum(t.weight for t in resnet.tasks if t.op == "conv2d") == 20


def test_bert_tasks(bert: tasks.NetworkTasks) -> None:
    _check_tasks(bert)
    ops = {t.op for t in bert.tasks}
    assert {"dense", "batch_matmul", "softmax", "norm", "gather"} <= ops
    by_name = {t.task_name: t.op for t in bert.tasks}
    assert by_name["take"] == "gather"
    # Pure data movement is "layout"; anything that computes (bias add, GELU, scaling) is "elementwise".
    assert all(op == "layout" for name, op in by_name.items() if name.startswith("reshape"))
    assert all(op == "elementwise" for name, op in by_name.items() if "gelu" in name or "divide" in name)
    # Two layers: 4 projections + 2 feed-forward matmuls each.
    assert sum(t.weight for t in bert.tasks if t.op == "dense") == 12


def test_ids_are_stable_across_extractions(bert: tasks.NetworkTasks) -> None:
    again = tasks.extract_network_tasks("bert_tiny-b1-64", CPU)
    assert {(t.task, t.weight) for t in again.tasks} == {(t.task, t.weight) for t in bert.tasks}


def test_workload_json_reloads_to_an_equal_module(bert: tasks.NetworkTasks, resnet: tasks.NetworkTasks) -> None:
    import tvm

    for t in bert.tasks + resnet.tasks:
        text = t.row["workload"]
        assert len(text) < 100_000, t.task_name  # no weights embedded: tens of kilobytes at most
        assert "b64ndarrays" not in json.loads(text)
        loaded = workload.load_workload(text)
        tvm.ir.assert_structural_equal(loaded, t.mod)
        assert workload.task_row(loaded, t.row["kind"], t.row["target"], t.task_name)["task"] == t.task


def test_gpu_extraction_on_a_cpu_machine(bert: tasks.NetworkTasks) -> None:
    gpu = tasks.extract_network_tasks("bert_tiny-b1-64", GPU)
    _check_tasks(gpu)
    assert gpu.kind == "gpu" and all(t.row["kind"] == "gpu" for t in gpu.tasks)
    assert json.loads(gpu.tasks[0].row["target"])["kind"] == "cuda"
    assert {t.task for t in gpu.tasks}.isdisjoint({t.task for t in bert.tasks})
    assert sorted(t.op for t in gpu.tasks) == sorted(t.op for t in bert.tasks)


def test_fold_batch_norms_keeps_outputs() -> None:
    model, x = zoo.build_model("mobilenet_v3-b1-32")
    with torch.no_grad():
        before = model(x)
        after = tasks.fold_batch_norms(model)(x)
    assert torch.allclose(before, after, atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown family"):
        tasks.extract_network_tasks("alexnet-b1-224", CPU)
    with pytest.raises(ValueError, match="layout"):
        tasks.export_to_relax("resnet_18-b1-32", CPU, layout="NCWH")
    with pytest.raises(TypeError, match="target dict"):
        tasks.extract_network_tasks("resnet_18-b1-32", 42)  # type: ignore[arg-type]


@pytest.mark.slow
def test_tables_for_networks_deduplicate_and_append(tmp_path) -> None:
    names = ["resnet_18-b1-32", "resnet_50-b1-32"]
    tables = tasks.tables_for_networks(names, json.dumps(CPU))
    assert [r["network"] for r in tables["networks"]] == names
    ids = [r["task"] for r in tables["tasks"]]
    assert len(ids) == len(set(ids))
    linked = [r["task"] for r in tables["network_tasks"]]
    assert set(linked) == set(ids)
    assert len(linked) > len(ids)  # the stem convolution and the max pool are shared
    ds = Dataset.create(tmp_path / "ds")
    for table, rows in tables.items():
        ds.append(table, rows)
    assert ds.validate() == []
    assert ds.count("network_tasks") == len(linked)


@pytest.mark.slow
def test_nhwc_layout() -> None:
    result = tasks.extract_network_tasks("resnet_18-b1-32", CPU, layout="NHWC")
    convs = [t for t in result.tasks if t.op == "conv2d"]
    assert len(convs) == 15
    data, weight = json.loads(convs[0].row["arg_shapes"])[:2]
    assert data[-1] == weight[2]  # NHWC data, HWIO kernel: input channels line up


def test_depthwise_and_grouped_convolutions_are_told_apart() -> None:
    import tvm
    from tvm import te, topi

    from tenset_study.programs.workload import describe_workload

    def conv(groups: int, channels: int = 32):
        data = te.placeholder((1, channels, 14, 14), name="data")
        weight = te.placeholder((channels, channels // groups, 3, 3), name="weight")
        out = topi.nn.group_conv2d_nchw(data, weight, 1, 1, 1, groups)
        return tvm.IRModule({"main": te.create_prim_func([data, weight, out])})

    assert describe_workload(conv(groups=32), "fused_conv2d_add")["op"] == "depthwise_conv2d"
    assert describe_workload(conv(groups=4), "fused_conv2d_add")["op"] == "group_conv2d"
