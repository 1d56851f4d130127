"""The network zoo: TenSet's network families in plain PyTorch (random weights, eval mode).

A variant is named ``<family>-b<batch>-<size>``, e.g. ``resnet_50-b1-224`` (see :mod:`.catalog`).
Modules: :mod:`.catalog` (families, names, :func:`build_model`) and one per architecture: :mod:`.resnet`,
:mod:`.mobilenet`, :mod:`.inception`, :mod:`.densenet`, :mod:`.dcgan`, :mod:`.bert`. They import torch, so
names load on first use.
"""

from __future__ import annotations

from ..lazy import lazy_exports

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "FAMILIES": "catalog", "Family": "catalog", "NetworkSpec": "catalog", "build_model": "catalog",
    "list_networks": "catalog", "network_name": "catalog", "network_row": "catalog", "parse_network": "catalog",
}

__all__ = ["FAMILIES", "Family", "NetworkSpec", "build_model", "list_networks", "network_name", "network_row",
           "parse_network"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
