"""torch.profiler's key_averages() summed into time per aten op: the PyTorch peer's counterpart of
`sluice model-bench --profile`. Imports no torch, so that its tests run where torch is not installed."""


def op_times(events, runs, on_gpu):
    """Per forward pass: [{kind, ops, ms, share}] for every op with time, largest first, and the total
    ms. The time is each op's self time on the GPU (on_gpu), else on the CPU. Kineto lists a kernel
    twice, inside the aten op that launched it and as a device row of its own: only the host-side op
    rows are summed, as torch's own table does, and user annotations are left out."""

    def self_microseconds(event):
        if not on_gpu:
            return event.self_cpu_time_total
        if hasattr(event, "self_device_time_total"):
            return event.self_device_time_total
        return event.self_cuda_time_total  # torch before 2.4

    kinds = []
    for event in events:
        host_side = getattr(event.device_type, "name", str(event.device_type)) == "CPU"
        if not host_side or getattr(event, "is_user_annotation", False):
            continue
        microseconds = self_microseconds(event)
        if microseconds > 0:
            kinds.append({"kind": event.key, "ops": event.count / runs, "ms": microseconds / 1000 / runs})
    total = sum(kind["ms"] for kind in kinds)
    for kind in kinds:
        kind["share"] = kind["ms"] / total if total else 0
    kinds.sort(key=lambda kind: kind["ms"], reverse=True)
    return kinds, total
