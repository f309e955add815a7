"""Where the PyTorch peers run: the GPU ("cuda", what bench/gpu/run.sh measures), or the CPU for a
dry run of the harness on tiny data where there is no GPU (bench/gpu/device_check.sh run against a
CPU stand-in of the bundle, as done before the first GPU session; not part of `make test`, which has
no torch)."""
import torch


def add_device_argument(parser):
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cpu: a dry run of the peer where there is no GPU (its figures mean nothing)")


def synchronize(device):
    """Waits for the work queued on `device` (nothing to wait for on the CPU)."""
    if device == "cuda":
        torch.cuda.synchronize()
