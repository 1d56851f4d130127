"""Export zoo networks to Relax and extract their MetaSchedule tuning tasks.

A network is exported with ``torch.export``, imported into Relax with its weights bound as constants,
legalized to TIR and fused (the pipeline ``tvm.relax.build`` uses); MetaSchedule's task extraction then
yields one task per distinct fused TIR function, with its number of occurrences as weight. Each task is
stored as a ``tasks`` row (see :func:`tenset_study.programs.workload.task_row`) whose id is the structural hash of
its IRModule plus the target kind, so the same subgraph in different networks gets the same id.

Batch norms directly after a convolution are folded into the convolution's weights and bias before
export (as TVM's Relay ``FoldScaleAxis`` did for TenSet), so convolution tasks read ``conv2d + add (+ relu)``
rather than carrying four batch-norm operands.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..programs import targets, tvm_setup, workload
from .. import zoo

if TYPE_CHECKING:
    import torch
    import tvm

LAYOUTS = ("NCHW", "NHWC")
_NHWC = {"relax.nn.conv2d": ["NHWC", "HWIO"], "relax.nn.conv3d": ["NDHWC", "DHWIO"]}


@dataclass
class NetworkTask:
    """One task of a network: its ``tasks`` row, its weight, and the IRModule MetaSchedule tunes."""

    row: dict
    weight: int
    mod: tvm.IRModule

    @property
    def task(self) -> str:
        """The task id."""
        return self.row["task"]

    @property
    def task_name(self) -> str:
        return self.row["task_name"]

    @property
    def op(self) -> str:
        return self.row["op"]


@dataclass
class NetworkTasks:
    """The tasks of one network variant for one target."""

    network: dict
    target: dict
    tasks: list[NetworkTask] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.network["network"]

    @property
    def kind(self) -> str:
        return targets.target_kind(self.target)

    @property
    def total_weight(self) -> int:
        """Sum of the task weights (the number of fused kernels one inference runs)."""
        return sum(t.weight for t in self.tasks)

    def task_rows(self) -> list[dict]:
        """Rows for the ``tasks`` table."""
        return [t.row for t in self.tasks]

    def network_task_rows(self) -> list[dict]:
        """Rows for the ``network_tasks`` table."""
        return [{"network": self.name, "task": t.task, "weight": t.weight} for t in self.tasks]


def fold_batch_norms(model: torch.nn.Module) -> torch.nn.Module:
    """Fold every ``BatchNorm`` that directly follows a convolution (2-D, 3-D or transposed 2-D) in an
    ``nn.Sequential``.

    Works in place on an eval-mode model and returns it; the folded batch norms become ``nn.Identity``.
    """
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        keys = list(module._modules)
        for first, second in zip(keys, keys[1:]):
            conv, bn = module._modules[first], module._modules[second]
            if isinstance(conv, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)) and isinstance(
                bn, (nn.BatchNorm2d, nn.BatchNorm3d)
            ):
                module._modules[first] = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.ConvTranspose2d))
                module._modules[second] = nn.Identity()
    return model


def export_to_relax(name: str, target: dict | str, layout: str = "NCHW", fold_bn: bool = True) -> tvm.IRModule:
    """A zoo network as a Relax IRModule, weights bound as constants, legalized to TIR and fused.

    ``layout="NHWC"`` converts convolutions to NHWC/NDHWC data with HWIO/DHWIO kernels, the layout
    TenSet used (layout transposes become tasks of their own where propagation stops, e.g. at ReLU6).
    """
    import torch
    import tvm
    from tvm import relax
    from tvm.relax.frontend.torch import from_exported_program

    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    model, example = zoo.build_model(name)
    if fold_bn:
        fold_batch_norms(model)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.export's own pytree deprecation notices
        program = torch.export.export(model, (example,))
        mod = from_exported_program(program, keep_params_as_input=True)
    del model, program
    mod, params = relax.frontend.detach_params(mod)
    func = mod["main"]
    num_inputs = int(func.attrs["num_input"])
    bindings = {var.name: value for var, value in zip(func.params[num_inputs:], params["main"])}
    mod = relax.transform.BindParams("main", bindings)(mod)
    passes = [relax.transform.DecomposeOpsForInference(), relax.transform.CanonicalizeBindings()]
    if layout == "NHWC":
        passes.append(relax.transform.ConvertLayout(_NHWC))
    passes += [
        relax.transform.LegalizeOps(), relax.transform.AnnotateTIROpPattern(), relax.transform.FoldConstant(),
        relax.transform.FuseOps(), relax.transform.FuseTIR(),
    ]
    with targets.make_target(targets.target_dict(target)):
        return tvm.transform.Sequential(passes)(mod)


def extract_network_tasks(name: str, target: dict | str, layout: str = "NCHW", fold_bn: bool = True) -> NetworkTasks:
    """Tasks of a zoo network for a target (TVM 0.27 dict form, e.g. ``targets.cpu_target()``).

    Tasks whose IRModules are structurally equal (same id) are merged by summing their weights.
    """
    target = targets.target_dict(target)
    kind = targets.target_kind(target)
    # Extraction uses no tensor intrinsics: install tvm_setup's cheap stub for the intrinsics package (so
    # nothing can trigger the 40-50 s full import) without registering any family; tuning code still
    # calls ``tvm_setup.prepare_tvm(kind)``, which registers what it needs on top of the stub.
    tvm_setup.register_tensor_intrinsics(())
    from tvm.s_tir import meta_schedule as ms

    start = time.perf_counter()
    mod = export_to_relax(name, target, layout, fold_bn)
    extracted = ms.relax_integration.extract_tasks(mod, targets.make_target(target))
    target_text = targets.target_json(target)
    merged: dict[str, NetworkTask] = {}
    for task in extracted:
        task_mod = task.dispatched[0]
        row = workload.task_row(task_mod, kind, target_text, task.task_name)
        if row["task"] in merged:
            merged[row["task"]].weight += int(task.weight)
        else:
            merged[row["task"]] = NetworkTask(row, int(task.weight), task_mod)
    return NetworkTasks(zoo.network_row(name), target, list(merged.values()), time.perf_counter() - start)


def tables_for_networks(names: Iterable[str], target: dict | str, layout: str = "NCHW", fold_bn: bool = True,
                        progress: bool | None = None) -> dict[str, list[dict]]:
    """Rows for the ``networks``, ``tasks`` and ``network_tasks`` tables, ready for ``Dataset.append``.

    Tasks shared by several networks appear once. A tqdm progress bar runs over the networks when there
    is more than one (or when ``progress`` is true).
    """
    from tqdm import tqdm

    names = list(names)
    show = len(names) > 1 if progress is None else progress
    tables: dict[str, list[dict]] = {"networks": [], "tasks": [], "network_tasks": []}
    seen: set[str] = set()
    bar = tqdm(names, desc="extracting tasks", unit="network", disable=not show)
    for name in bar:
        bar.set_postfix_str(name)
        result = extract_network_tasks(name, target, layout, fold_bn)
        tables["networks"].append(result.network)
        tables["network_tasks"] += result.network_task_rows()
        for row in result.task_rows():
            if row["task"] not in seen:
                seen.add(row["task"])
                tables["tasks"].append(row)
    return tables


__all__ = ["NetworkTask", "NetworkTasks", "export_to_relax", "extract_network_tasks", "fold_batch_norms",
           "tables_for_networks"]
