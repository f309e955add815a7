"""Per-core reading of seed-format images (list<uint8> raw pixels in Parquet): the streamed page
reader (the default) vs Arrow's list reader (`--arrow-pixel-reader`, the previous path), on one or
more encodings of the same images (--data LABEL=DIR, repeated), all in
`sluice run --cpu-workers 1` with a model that costs nothing (tools/make_test_model.py --arch sleep
--sleep-seconds 0), so the preprocess stage -- read, decompress, crop -- is what is timed. The two
readers alternate, ROUNDS times each, in one session on the same files; the figure is each one's
preprocess busy time per image (best round) and the ratio. Also checks that both write the same
predictions. Writes Markdown to --out.

Usage: python3 bench/cpu_read/compare.py --sluice build/sluice --data LABEL=DIR [--data ...] --model sleep0.onnx
           [--images 4000] [--rounds 3] --out bench/results/cpu_read.md
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time

import pyarrow.parquet as pq


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def run(sluice, data, model, images, arrow_reader, work):
    out = os.path.join(work, "out")
    shutil.rmtree(out, ignore_errors=True)
    report = os.path.join(work, "report.json")
    command = [sluice, "run", "--input", data, "--model", model, "--output", out, "--device", "cpu",
               "--cpu-workers", "1", "--threads", "1", "--batch-size", "256", "--limit", str(images),
               "--report", report, "--no-progress"]
    if arrow_reader:
        command.append("--arrow-pixel-reader")
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = json.load(open(report))
    predictions = pq.read_table(out)  # one file per input file, rows in input order
    busy = result["stages"]["preprocess"]["busy_seconds"]
    return {"busy_ms_per_image": 1000 * busy / result["images"], "images": result["images"],
            "errors": result["errors"], "seconds": result["seconds"]}, predictions


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    parser.add_argument("--data", required=True, action="append", help="LABEL=DIR; repeat for each encoding")
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    datasets = [entry.split("=", 1) for entry in args.data]
    runs = {(label, reader): [] for label, _ in datasets for reader in ("stream", "arrow")}
    same = {}
    with tempfile.TemporaryDirectory() as work:
        for _ in range(args.rounds):
            for label, data in datasets:
                outputs = {}
                for reader in ("stream", "arrow"):
                    result, outputs[reader] = run(args.sluice, data, args.model, args.images, reader == "arrow", work)
                    runs[(label, reader)].append(result)
                    print(json.dumps({"data": label, "reader": reader, **result}), flush=True)
                same[label] = same.get(label, True) and outputs["stream"].equals(outputs["arrow"])
    best = {key: min(r["busy_ms_per_image"] for r in results) for key, results in runs.items()}
    print(json.dumps({"best_ms_per_image": {f"{label}/{reader}": ms for (label, reader), ms in best.items()},
                      "same_predictions": same}))

    # Hand-written notes below the table (a profile, what it means) survive a rerun.
    notes = ""
    if os.path.exists(args.out):
        text = open(args.out).read()
        if "\n## Notes" in text:
            notes = text[text.index("\n## Notes"):]
    with open(args.out, "w") as out:
        out.write("# Reading seed-format pixels: streamed pages vs Arrow's list reader (one core)\n\n")
        out.write(f"Machine: {cpu_model()}, {os.cpu_count()} cores; "
                  f"{time.strftime('%Y-%m-%d')}; load average {load_before:.1f} before the runs.\n")
        data_args = " ".join(f'--data "{entry}"' for entry in args.data)
        out.write(f"Command: `python3 bench/cpu_read/compare.py --sluice {args.sluice} {data_args} "
                  f"--model {args.model} --images {args.images} --rounds {args.rounds}` "
                  f"(what `bench/cpu_read/run.sh` runs after generating the data)\n\n")
        out.write("`sluice run --cpu-workers 1 --device cpu` with a model that does no work, so the "
                  "preprocess stage (read the row group, decompress, crop to 224x224) is what is timed; "
                  "the readers alternate in one session on the same files.\n\n")
        out.write("| data | reader | preprocess busy ms/image, each round | best | images/s per core (best) |\n")
        out.write("|---|---|---|---|---|\n")
        for label, _ in datasets:
            for reader, name in (("arrow", "Arrow list arrays (`--arrow-pixel-reader`, the peer)"),
                                 ("stream", "streamed pages (default)")):
                rounds = ", ".join(f"{r['busy_ms_per_image']:.3f}" for r in runs[(label, reader)])
                ms = best[(label, reader)]
                out.write(f"| {label} | {name} | {rounds} | {ms:.3f} | {1000 / ms:,.0f} |\n")
        out.write("\n")
        for label, _ in datasets:
            ratio = best[(label, "arrow")] / best[(label, "stream")]
            out.write(f"- {label}: streamed / Arrow **{ratio:.2f}x** images per second per core; "
                      f"same predictions from both readers: {same[label]}.\n")
        out.write(notes)


if __name__ == "__main__":
    main()
