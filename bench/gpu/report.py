"""Turns bench/gpu/run.sh's JSON lines into the Markdown tables of bench/results/gpu.md, with each
sluice figure's ratio to the PyTorch peer measured in the same run, and the issues' goals checked:
  model-only fp16 >= 1.8x PyTorch eager fp16 (issue 3);
  end-to-end steady state >= 0.9x sluice's own model-only rate, whole job >= 5x the tuned PyTorch
  pipeline at the same precision (issue 3);
  from JPEG bytes >= 4x the PyTorch DataLoader with PIL, and >= 10,000 images/s (issue 4).
Where the model-only runs carry a profile (sluice's model-bench --profile, by kind of op; the PyTorch
peer's --profile, by aten op), where their time goes follows the model-only table: what limits a
figure below its goal.
A line missing a figure (a run that failed part-way) prints "-" there instead of stopping the report."""
import json
import re
import sys


def number(value, digits=0, suffix=""):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def ratio(ours, theirs):
    return f"{ours / theirs:.2f}x" if ours and theirs else "-"


def goal(ours, theirs, at_least):
    if not ours or not theirs:
        return "-"
    return f"{ours / theirs:.2f}x ({'met' if ours / theirs >= at_least else 'NOT met'}: >= {at_least}x)"


def model_only(lines):
    model = {}
    for line in lines:
        if "batch_size" in line and "iterations" in line:
            if "peer" in line:
                who = "pytorch compile" if "torch.compile" in line["peer"] else "pytorch"
            else:
                who = "sluice " + line.get("cudnn_algorithms", "heuristic")
                cached = re.search(r"algorithms of (\d+) of (\d+) signatures from the cache", line.get("device", ""))
                if cached and int(cached.group(1)) > 0:
                    who += f", {cached.group(1)} of {cached.group(2)} signatures from the cache"
            while (who, line["precision"], line["batch_size"]) in model:
                who += " (again)"  # a rerun is a row of its own, never in place of the first
            model[(who, line["precision"], line["batch_size"])] = line
    print("## Model-only ResNet50 (images/s)\n")
    print("| batch | precision | cuDNN algorithms | sluice | sluice start-up s | PyTorch eager channels_last | ratio |")
    print("|---|---|---|---|---|---|---|")
    for (who, precision, batch), line in sorted(model.items(), key=lambda item: (item[0][2], item[0][1], item[0][0])):
        if not who.startswith("sluice"):
            continue
        peer = model.get(("pytorch", precision, batch), {}).get("images_per_second")
        ours = line.get("images_per_second")
        versus = goal(ours, peer, 1.8) if precision == "fp16" else ratio(ours, peer)
        print(f"| {batch} | {precision} | {who.split(' ', 1)[1]} | {number(ours)} | "
              f"{number(line.get('setup_seconds'), 2)} | {number(peer)} | {versus} |")
    compiled = [(key, line) for key, line in model.items() if key[0] == "pytorch compile"]
    if compiled:
        print("\n| batch | precision | PyTorch torch.compile | sluice (heuristic) | ratio |")
        print("|---|---|---|---|---|")
        for (_, precision, batch), line in sorted(compiled, key=lambda item: item[0][1:]):
            ours = model.get(("sluice heuristic", precision, batch), {}).get("images_per_second")
            theirs = line.get("images_per_second")
            print(f"| {batch} | {precision} | {number(theirs)} | {number(ours)} | {ratio(ours, theirs)} |")
    return model


def rate_of(amount, milliseconds, unit):
    return number(amount / (milliseconds * 1e-3) / unit, 1) if amount and milliseconds else "-"


def model_profiles(lines):
    profiled = [line for line in lines if "profile" in line or "profile_error" in line]
    for line in profiled:
        if "peer" in line:
            print(f"\n### Where PyTorch's model time goes: {line['precision']}, batch {line['batch_size']}, "
                  f"{line['peer']}\n")
        else:
            print(f"\n### Where sluice's model time goes: {line['precision']}, batch {line['batch_size']}, "
                  f"cuDNN algorithms {line.get('cudnn_algorithms', '-')}\n")
        if "profile_error" in line:
            print(f"No profile: {line['profile_error']}")
            continue
        profile = line["profile"]
        ops_ms, forward_ms = profile.get("ops_ms"), profile.get("forward_ms")
        if "peer" in line:
            print(f"torch.profiler over {profile.get('runs')} passes, self device time per aten op: "
                  f"{number(ops_ms, 3)} ms per pass in the ops, {number(forward_ms, 3)} ms per pass as "
                  f"benchmarked.\n")
        else:
            print(f"Each op timed alone over {profile.get('runs')} eager passes: {number(ops_ms, 3)} ms per pass "
                  f"in the ops, {number(forward_ms, 3)} ms per pass as benchmarked "
                  f"({'CUDA graph' if line.get('device', '').endswith('CUDA graph') else 'eager launches'}); "
                  f"{rate_of(profile.get('flops'), forward_ms, 1e12)} TFLOP/s at the benchmarked pass. "
                  f"Every op: {profile.get('file', '-')}.\n")
        print("| kind | ops | ms | share | TFLOP/s | GB/s |")
        print("|---|---|---|---|---|---|")
        for kind in profile.get("by_kind", [])[:8]:
            share = kind.get("share")
            print(f"| {kind['kind']} | {number(kind.get('ops'))} | {number(kind.get('ms'), 3)} | "
                  f"{number(share * 100 if share is not None else None, 1, '%')} | "
                  f"{rate_of(kind.get('flops'), kind.get('ms'), 1e12)} | "
                  f"{rate_of(kind.get('bytes'), kind.get('ms'), 1e9)} |")


def seed_end_to_end(lines, model):
    runs = [line for line in lines if line.get("sluice") == "run"]
    peers = [line for line in lines if "peer" in line and "images" in line and not line.get("jpeg")]
    if not runs and not peers:
        return
    print("\n## End-to-end, seed-format images from local disk\n")
    print("Whole job: the process' wall time from outside (PyTorch's import and CUDA start-up included); "
          "job s: what each side times itself. PyTorch's fp32 runs TF32 convolutions (its default), "
          "so sluice's tf32 is its counterpart.\n")
    print("| pipeline | precision | images | whole job s | job s | first batch s | images/s | steady images/s | "
          "GPU util | bottleneck |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for line in runs:
        print(f"| sluice run | {line['precision']} | {line['images']} | {number(line.get('whole_job_seconds'), 2)} | "
              f"{number(line.get('seconds'), 2)} | {number(line.get('first_batch_seconds'), 2)} | "
              f"{number(line.get('images_per_second'))} | {number(line.get('steady_images_per_second'))} | "
              f"{number(line.get('gpu_utilization_mean'), 0, '%')} | {line.get('bottleneck') or '-'} |")
    for line in peers:
        print(f"| {line['peer']} | {line['precision']} | {line['images']} | "
              f"{number(line.get('whole_job_seconds'), 2)} | {number(line.get('seconds'), 2)} | "
              f"{number(line.get('first_batch_seconds'), 2)} | {number(line.get('images_per_second'))} | - | - | - |")
    print("\n| sluice | vs | ratio (whole job, images / wall s) |")
    print("|---|---|---|")

    def rate(line):
        wall = line.get("whole_job_seconds")
        return line["images"] / wall if wall else None

    for line in runs:
        counterpart = {"fp16": "fp16", "tf32": "fp32"}.get(line["precision"], line["precision"])
        for peer in peers:
            if peer["precision"] != counterpart:
                continue
            at_least = 5.0 if peer.get("variant") == "tuned" else None
            versus = goal(rate(line), rate(peer), at_least) if at_least else ratio(rate(line), rate(peer))
            print(f"| run {line['precision']} | {peer['peer']} {peer['precision']} | {versus} |")
        alone = model.get(("sluice heuristic", line["precision"], 256), {}).get("images_per_second")
        print(f"| run {line['precision']}, steady state | sluice model-only {line['precision']} batch 256 | "
              f"{goal(line.get('steady_images_per_second'), alone, 0.9)} |")


def jpeg_end_to_end(lines):
    jpeg = [line for line in lines if line.get("sluice") == "run-jpeg" or line.get("jpeg")]
    if not jpeg:
        return
    peers = {line.get("variant", "as-specified"): line for line in jpeg if "peer" in line}
    anchor = peers.get("as-specified", {}).get("images_per_second")
    print("\n## End-to-end from JPEG bytes (issue 4), fp16\n")
    print("| pipeline | images | errors | whole job s | job s | images/s | vs PyTorch as specified | "
          "decoded cpu / gpu | bottleneck |")
    print("|---|---|---|---|---|---|---|---|---|")
    for line in jpeg:
        if "peer" in line:
            print(f"| {line['peer']} | {line['images']} | - | {number(line.get('whole_job_seconds'), 2)} | "
                  f"{number(line.get('seconds'), 2)} | {number(line.get('images_per_second'))} | "
                  f"{ratio(line.get('images_per_second'), anchor)} | PIL | - |")
            continue
        decoded = line.get("decoded") or {}
        ours = line.get("images_per_second")
        target = " (>= 10,000 images/s: " + ("met" if ours and ours >= 10000 else "NOT met") + ")"
        print(f"| sluice run --decode {line.get('decode')} | {line['images']} | {line.get('errors')} | "
              f"{number(line.get('whole_job_seconds'), 2)} | {number(line.get('seconds'), 2)} | {number(ours)} | "
              f"{goal(ours, anchor, 4.0)}{target} | {decoded.get('cpu', '-')} / {decoded.get('gpu', '-')} | "
              f"{line.get('bottleneck') or '-'} |")


def main(path):
    lines = []
    for text in open(path):
        if not text.strip().startswith("{"):
            continue
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:  # cut off when its step ran out of time
            print(f"report.py: skipped a line that is not whole JSON: {text[:80]!r}", file=sys.stderr)
    print("# GPU measurements (issues 3 and 4), sluice and PyTorch in the same run\n")
    model = model_only(lines)
    model_profiles(lines)
    seed_end_to_end(lines, model)
    jpeg_end_to_end(lines)


if __name__ == "__main__":
    main(sys.argv[1])
