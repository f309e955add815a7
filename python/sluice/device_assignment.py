"""Which GPU a Spark task uses.

With Spark GPU scheduling (a resource profile or spark.task.resource.gpu.amount), Spark hands each
task its GPU addresses in TaskContext.resources()["gpu"]: the task takes the first one. Without it
(local mode, where Spark cannot schedule GPUs), sluice spreads tasks over the GPUs it sees itself:
partition p gets visible GPU p mod n.

Where the engine has no usable GPU (a build without the CUDA backend, or no driver) the assignment
is still recorded and the engine runs on the CPU. Tested with fake resources (unit tests) and with
a local-cluster whose workers advertise a GPU through a discovery script (tests/spark); not yet run
on a machine with GPUs.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


@dataclass(frozen=True)
class DeviceChoice:
    device: str               # what the engine is given: "cpu" or "cuda:<CUDA device number>"
    gpu_address: str | None   # the GPU assigned to the task, if any
    source: str               # "spark" (Spark's scheduler), "local" (sluice's own), "none"


def visible_gpus(environ: Mapping[str, str] | None = None, device_glob: str = "/dev/nvidia[0-9]*") -> list[str]:
    """GPU addresses this process may use: CUDA_VISIBLE_DEVICES when set, else the NVIDIA device files."""
    environ = os.environ if environ is None else environ
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [item.strip() for item in listed.split(",") if item.strip() and item.strip() != "-1"]
    addresses = [os.path.basename(path)[len("nvidia"):] for path in glob.glob(device_glob)]
    return sorted((a for a in addresses if a.isdigit()), key=int)


def _addresses(resources: Mapping[str, Any] | None) -> Sequence[str]:
    if not resources or "gpu" not in resources:
        return ()
    info = resources["gpu"]
    addresses = getattr(info, "addresses", info)  # pyspark ResourceInformation, or a plain list in tests
    return [str(a) for a in addresses]


def cuda_ordinal(address: str, environ: Mapping[str, str] | None = None) -> int:
    """The CUDA device number of GPU `address` inside this process: its position in
    CUDA_VISIBLE_DEVICES when that is set (CUDA renumbers the GPUs it lists from 0), else the address."""
    environ = os.environ if environ is None else environ
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        visible = [item.strip() for item in listed.split(",") if item.strip()]
        if address in visible:
            return visible.index(address)
        raise ValueError(f"GPU {address} is not in CUDA_VISIBLE_DEVICES={listed}")
    return int(address)


def assign_device(requested: str, resources: Mapping[str, Any] | None, partition_id: int,
                  local_gpus: Sequence[str], has_cuda: bool,
                  environ: Mapping[str, str] | None = None) -> DeviceChoice:
    """The device for one task.

    requested: "cpu", "cuda" or "auto". resources: TaskContext.resources(). local_gpus: what
    visible_gpus() returned, used only when Spark assigned no GPU. has_cuda: whether the engine was
    built with a CUDA backend (without one a GPU is still recorded, and the engine runs on the CPU
    unless "cuda" was asked for, which is an error). environ: for CUDA_VISIBLE_DEVICES (see cuda_ordinal).
    """
    if requested not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device must be cpu, cuda or auto, not {requested!r}")
    if requested == "cpu":
        return DeviceChoice("cpu", None, "none")
    assigned = _addresses(resources)
    if assigned:
        address, source = assigned[0], "spark"
    elif local_gpus:
        address, source = local_gpus[partition_id % len(local_gpus)], "local"
    else:
        address, source = None, "none"
    if requested == "cuda" and (address is None or not has_cuda):
        why = "no GPU was assigned or visible" if address is None else "this build of sluice has no CUDA backend"
        raise ValueError(f"device 'cuda' requested but {why}; use device='cpu' or 'auto'")
    if address is not None and has_cuda:
        return DeviceChoice(f"cuda:{cuda_ordinal(address, environ)}", address, source)
    return DeviceChoice("cpu", address, source)
