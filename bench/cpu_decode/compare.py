"""Per-core decode + resize(256) + center crop(224) to uint8: `sluice preprocess --cpu-workers 1`
against PIL doing the same (open, convert RGB, resize, crop, to a numpy array), in the same run on
the same JPEG files; writes the figures and a time breakdown to a Markdown file.
Run through bench/cpu_decode/run.sh."""
import argparse
import io
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL
import pyarrow.parquet as pq
from PIL import Image, JpegImagePlugin


def pil_preprocess(blob, resize=256, crop=224, timings=None):
    start = time.perf_counter()
    image = Image.open(io.BytesIO(blob)).convert("RGB")
    decoded = time.perf_counter()
    width, height = image.size
    short, long = min(width, height), max(width, height)
    size = (resize, int(resize * long / short)) if width <= height else (int(resize * long / short), resize)
    if size != (width, height):
        image = image.resize(size, Image.BILINEAR)
    resized = time.perf_counter()
    top, left = int(round((size[1] - crop) / 2.0)), int(round((size[0] - crop) / 2.0))
    pixels = np.asarray(image.crop((left, top, left + crop, top + crop)))
    if timings is not None:
        timings[0] += decoded - start
        timings[1] += resized - decoded
        timings[2] += time.perf_counter() - resized
    return pixels


def run_pil(blobs):
    """Returns images per wall second, per CPU second, and ms per image for decode/resize/crop."""
    timings = [0.0, 0.0, 0.0]
    start, cpu_start = time.perf_counter(), time.process_time()
    for blob in blobs:
        pil_preprocess(blob, timings=timings)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return len(blobs) / seconds, len(blobs) / cpu_seconds, [1e3 * t / len(blobs) for t in timings]


PERF_HZ = 1999
DECODE_DSOS = ("libjpeg", "libz.", "libspng")


def profile_sluice(sluice, data, work):
    """Samples `sluice preprocess --cpu-workers 1` with perf: the preprocessing worker is the thread
    that runs libjpeg. Returns its CPU seconds and their split by library (decode / sluice's own code,
    i.e. resampling / kernel / other), or None without perf."""
    out = Path(work) / "crops-perf"
    samples = Path(work) / "perf.data"
    try:
        subprocess.run(["perf", "record", "-q", "-F", str(PERF_HZ), "-o", str(samples), "--", sluice, "preprocess",
                        "--input", str(data), "--output", str(out), "--cpu-workers", "1", "--no-progress"],
                       check=True, capture_output=True)
        script = subprocess.run(["perf", "script", "-i", str(samples), "-F", "tid,ip,dso"], check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    by_thread = {}
    for line in script.splitlines():
        parts = line.split()
        if not parts:
            continue
        dso = line[line.find("(") + 1:line.rfind(")")] if "(" in line else "?"
        by_thread.setdefault(parts[0], []).append(dso)
    worker = max(by_thread.values(), key=lambda dsos: sum(any(d in x for d in DECODE_DSOS) for x in dsos))
    split = {"decode": 0, "resize": 0, "kernel": 0, "other": 0}
    for dso in worker:
        if any(d in dso for d in DECODE_DSOS):
            split["decode"] += 1
        elif dso.endswith("/sluice"):
            split["resize"] += 1
        elif "kernel" in dso:
            split["kernel"] += 1
        else:
            split["other"] += 1
    return len(worker) / PERF_HZ, {key: count / PERF_HZ for key, count in split.items()}


writer_ms = []  # the Parquet writer thread's busy ms per image, one entry per run_sluice call


def run_sluice(sluice, data, work, *flags):
    out = Path(work) / "crops"
    report = Path(work) / "report.json"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    subprocess.run([sluice, "preprocess", "--input", str(data), "--output", str(out), "--cpu-workers", "1",
                    "--no-progress", "--report", str(report), *flags], check=True, capture_output=True)
    result = json.loads(report.read_text())
    stage = result["stages"]["preprocess"]
    writer_ms.append(1e3 * result["stages"]["write"]["busy_seconds"] / result["images"])
    return result["images"] / stage["busy_seconds"], result["images_per_second"]


def dataset_stats(blobs):
    sizes = np.array([len(b) for b in blobs])
    dims, formats, modes, sampling = [], {}, {}, {}
    sampling_names = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
    for blob in blobs:
        image = Image.open(io.BytesIO(blob))
        dims.append(image.size)
        formats[image.format] = formats.get(image.format, 0) + 1
        modes[image.mode] = modes.get(image.mode, 0) + 1
        if image.format == "JPEG" and image.mode == "RGB":
            name = sampling_names.get(JpegImagePlugin.get_sampling(image), "other")
            sampling[name] = sampling.get(name, 0) + 1
    jpeg_sizes = np.array([len(b) for b in blobs if b[:2] == b"\xff\xd8"])
    dims = np.array(dims)
    return (f"{len(blobs)} images, mean {sizes.mean() / 1000:.1f} KB (median {np.median(sizes) / 1000:.1f} KB, "
            f"{sizes.min() / 1000:.1f}-{sizes.max() / 1000:.0f} KB), mean {dims[:, 0].mean():.0f}x{dims[:, 1].mean():.0f} px, "
            f"sides {dims.min()}-{dims.max()} px, formats {formats}, modes {modes}; JPEGs alone mean "
            f"{jpeg_sizes.mean() / 1000:.1f} KB, colour JPEGs' chroma subsampling {sampling}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--breakdown", required=True, help="the compiled decode_breakdown binary")
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    blobs = pq.read_table(args.data, columns=["image"]).column("image").to_pylist()
    with tempfile.TemporaryDirectory() as work:
        sluice_stage, sluice_wall, sluice_cpu, profiles = [], [], [], []
        pil_rates, pil_cpu_rates, pil_parts = [], [], None
        for _ in range(args.rounds):  # interleaved, so drifts in machine load hit both
            stage, wall = run_sluice(args.sluice, args.data, work)
            sluice_stage.append(stage)
            sluice_wall.append(wall)
            profile = profile_sluice(args.sluice, args.data, work)
            if profile:
                profiles.append(profile)
                sluice_cpu.append(len(blobs) / profile[0])
            rate, cpu_rate, parts = run_pil(blobs)
            pil_rates.append(rate)
            pil_cpu_rates.append(cpu_rate)
            if pil_parts is None or rate >= max(pil_rates):
                pil_parts = parts
        # The breakdown of the round with the most CPU-efficient sluice run.
        profile = max(profiles, key=lambda p: -p[0]) if profiles else None

        files = []
        for index, blob in enumerate(blobs):
            path = Path(work) / f"{index:05d}.img"
            path.write_bytes(blob)
            files.append(str(path))
        breakdown = json.loads(subprocess.run([args.breakdown, *files], check=True, capture_output=True,
                                              text=True).stdout)

    best_stage, best_wall, best_pil = max(sluice_stage), max(sluice_wall), max(pil_rates)
    best_pil_cpu = max(pil_cpu_rates)
    load = os.getloadavg()[0]

    def perf_ms(*keys):
        if not profile:
            return "n/a (no perf)"
        return f"{sum(1e3 * profile[1][key] for key in keys) / len(blobs):.2f}"
    stage_ms = 1e3 / best_stage
    other_ms = stage_ms - breakdown["decode_ms"] - breakdown["resize_crop_ms"]
    lines = [
        "# CPU decode + resize + crop, one core: sluice vs PIL",
        "",
        f"Command: `bench/cpu_decode/run.sh BUILD_DIR` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} hardware threads, Pillow {PIL.__version__}, "
        f"best of {args.rounds} interleaved rounds).",
        "",
        f"Data: `sluice datagen --format jpeg --seed 0`: {dataset_stats(blobs)}.",
        "",
        "Work per image: decode to RGB, Resize(256) (antialiased bilinear, Pillow's filter), CenterCrop(224), "
        "uint8 HWC. sluice: `sluice preprocess --cpu-workers 1` (default flags: full-size decode except JPEGs "
        "with a short side >= 4096 px); per core = images / busy seconds of the one preprocessing worker "
        "(reads the Parquet row group, decodes, resamples only the 224x224 window). PIL: `Image.open(...)"
        ".convert('RGB').resize(size, BILINEAR).crop(box)` then `np.asarray`, as torchvision's PIL path does.",
        "",
        "| what | images/s | ms/image |",
        "|---|---|---|",
        f"| sluice preprocess worker (per core) | {best_stage:.0f} | {1e3 / best_stage:.2f} |",
        f"| sluice preprocess job wall (1 worker + Parquet writer thread) | {best_wall:.0f} | {1e3 / best_wall:.2f} |",
        f"| PIL, one core | {best_pil:.0f} | {1e3 / best_pil:.2f} |",
        f"| **ratio sluice worker / PIL (wall)** | **{best_stage / best_pil:.2f}x** | |",
        f"| ratio sluice job wall / PIL | {best_wall / best_pil:.2f}x | |",
        "",
    ]
    if profile:
        best_cpu = max(sluice_cpu)
        lines = lines[:-1] + [
            f"| sluice preprocess worker, CPU time (perf samples of its thread) | {best_cpu:.0f} | "
            f"{1e3 / best_cpu:.2f} |",
            f"| PIL, CPU time (process_time) | {best_pil_cpu:.0f} | {1e3 / best_pil_cpu:.2f} |",
            f"| **ratio sluice / PIL (CPU time per image)** | **{best_cpu / best_pil_cpu:.2f}x** | |",
        ]
    lines += [
        "",
        f"Load average when done: {load:.1f} on {os.cpu_count()} hardware threads (other jobs share this machine: "
        "wall-clock rates are contended; CPU-time rates are not).",
        "",
        f"All rounds, images/s: sluice worker {[round(r) for r in sluice_stage]}, sluice wall "
        f"{[round(r) for r in sluice_wall]}, PIL {[round(r) for r in pil_rates]}; CPU time: sluice worker "
        f"{[round(r) for r in sluice_cpu]}, PIL {[round(r) for r in pil_cpu_rates]}. Ratio ranges over the rounds "
        f"(each sluice round against each PIL round): worker wall / PIL wall "
        f"{min(sluice_stage) / max(pil_rates):.2f}-{max(sluice_stage) / min(pil_rates):.2f}x"
        + (f", CPU time {min(sluice_cpu) / max(pil_cpu_rates):.2f}-{max(sluice_cpu) / min(pil_cpu_rates):.2f}x"
           if sluice_cpu else "") + ".",
        "",
        "## Where the time goes (ms per image)",
        "",
        "| step | sluice, timed calls | sluice, perf (worker thread CPU) | PIL, timed calls |",
        "|---|---|---|---|",
        f"| decode (libjpeg-turbo in both; zlib/libspng for PNGs) | {breakdown['decode_ms']:.2f} | "
        f"{perf_ms('decode')} | {pil_parts[0]:.2f} |",
        f"| resize + crop (sluice filters only the 224x224 window; PIL resizes all, then crops) | "
        f"{breakdown['resize_crop_ms']:.2f} | {perf_ms('resize')} | {pil_parts[1]:.2f} |",
        f"| copies: Parquet read and page faults of fresh buffers (sluice); crop + np.asarray (PIL) | | "
        f"{perf_ms('kernel', 'other')} | {pil_parts[2]:.2f} |",
        "",
    ]
    if profile:
        total = sum(profile[1].values())
        share = {key: 100 * value / total for key, value in profile[1].items()}
        lines += [
            f"What bounds sluice: decode takes {share['decode']:.0f}% of the worker thread's CPU, resize + crop "
            f"{share['resize']:.0f}%, copies and the rest {share['kernel'] + share['other']:.0f}% (perf). Resampling "
            "runs AVX2 loops (same fixed-point arithmetic as Pillow) over the 224x224 window only, and JPEG decoding "
            "skips the inverse DCT and colour conversion of the blocks the crop does not need; that skipping saved "
            "only ~5% of decode time when it was introduced, so most of what is left is entropy (Huffman) decoding, which reads every "
            "coefficient of the file whatever part of it is kept.",
            "",
        ]
    lines += [
        "Timed calls: `decode_breakdown` times sluice's decode and resize functions per call on the same files; "
        "PIL is timed per step inside the loop. perf: samples of the preprocessing worker thread during a "
        "`sluice preprocess` run (decode = libjpeg-turbo, zlib, libspng; resize = sluice's own code, nearly all "
        "of it the resampler's AVX2 loops; copies = kernel page faults + Arrow/Parquet/libc).",
        "",
        "The worker's busy time is wall-clock: besides decode and resize "
        f"({breakdown['decode_ms'] + breakdown['resize_crop_ms']:.2f} ms of CPU in the timed calls) it includes the "
        "time the worker waits for a core. The job has a second busy thread, the Parquet writer (busy "
        f"{min(writer_ms):.2f}-{max(writer_ms):.2f} ms per image in these runs: it writes each 224x224x3 crop as "
        "one binary value, Snappy-compressed); on a small machine shared with other jobs the two contend for the "
        "share of the CPU the scheduler gives the sluice process (one process, however many threads, against "
        "PIL's one thread), so the worker's wall-clock rate understates its per-core speed and swings with the "
        "load. The CPU-time ratio (CPU seconds the worker thread itself spent per image) is the per-core figure.",
        "",
        "DCT-domain downscaling (`--dct-scaling-margin`): datagen's ImageNet-sized JPEGs are too small for it to "
        "apply at the default margin 8 (short side >= 4096 px for 1/2 scale), or even at margin 2 (>= 1024 px), so "
        "this benchmark runs no scaled decode. Measured against Pillow on the 14 "
        "photographs re-encoded with long sides 1,100-5,000 px: margin 1: mean |d| 1.6, max 97; margin 2: mean "
        "0.39, max 36; margin 3: mean 0.11, max 29; margin 4-6: max 10-13; margin 8: mean 0.005, max 1. Only "
        "margin 8 stays within the fidelity tolerance (mean <= 1, max <= 8), hence the default.",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
