"""Turns bench/gpu/run.sh's JSON lines into the Markdown tables of bench/results/gpu.md, with each
sluice figure's ratio to the PyTorch peer measured in the same run."""
import json
import sys


def main(path):
    lines = [json.loads(line) for line in open(path) if line.strip().startswith("{")]
    model = {}
    for line in lines:
        if "batch_size" in line and "iterations" in line:
            if "peer" in line:
                who = "pytorch compile" if "torch.compile" in line["peer"] else "pytorch"
            else:
                who = "sluice " + line.get("cudnn_algorithms", "heuristic")
            model[(who, line["precision"], line["batch_size"])] = (line["images_per_second"],
                                                                  line.get("setup_seconds"))
    print("# GPU measurements (issue 3), sluice and PyTorch in the same run\n")
    print("## Model-only ResNet50 (images/s)\n")
    print("| batch | precision | cuDNN algorithms | sluice | start-up s | PyTorch eager channels_last | ratio |")
    print("|---|---|---|---|---|---|---|")
    for (who, precision, batch), (rate, setup) in sorted(model.items(), key=lambda item: (item[0][2], item[0][1],
                                                                                          item[0][0])):
        if not who.startswith("sluice"):
            continue
        peer = model.get(("pytorch", precision, batch), (None, None))[0]
        ratio = f"{rate / peer:.2f}x" if peer else "-"
        setup_text = f"{setup:.2f}" if setup is not None else "-"
        print(f"| {batch} | {precision} | {who.split(' ', 1)[1]} | {rate:,.0f} | {setup_text} | "
              + (f"{peer:,.0f} | {ratio} |" if peer else "- | - |"))
    compiled = [(key, value) for key, value in model.items() if key[0] == "pytorch compile"]
    if compiled:
        print("\n| batch | precision | PyTorch torch.compile max-autotune | sluice (heuristic) | ratio |")
        print("|---|---|---|---|---|")
        for (_, precision, batch), (rate, _) in sorted(compiled, key=lambda item: item[0][1:]):
            ours = model.get(("sluice heuristic", precision, batch), (None, None))[0]
            print(f"| {batch} | {precision} | {rate:,.0f} | " +
                  (f"{ours:,.0f} | {ours / rate:.2f}x |" if ours else "- | - |"))
    print("\n## End-to-end, seed-format images from local disk\n")
    print("| pipeline | precision | images | whole job s | first batch s | images/s | steady images/s | GPU util |")
    print("|---|---|---|---|---|---|---|---|")
    for line in lines:
        if line.get("sluice") == "run":
            workers = line.get("inference_workers", 1)
            label = "sluice run" + (f" --inference-workers {workers}" if workers != 1 else "")
            print(f"| {label} | {line['precision']} | {line['images']} | {line['seconds']:.2f} | "
                  f"{line['first_batch_seconds']:.2f} | {line['images_per_second']:,.0f} | "
                  f"{line['steady_images_per_second']:,.0f} | {line['gpu_utilization_mean']:.0f}% |")
        elif "images" in line and "peer" in line and not line.get("jpeg"):
            print(f"| {line['peer']} | {line['precision']} | {line['images']} | {line['seconds']:.2f} | "
                  f"{line['first_batch_seconds']:.2f} | {line['images_per_second']:,.0f} | - | - |")

    jpeg = [line for line in lines if line.get("sluice") == "run-jpeg" or line.get("jpeg")]
    if jpeg:
        peer = next((line["images_per_second"] for line in jpeg if "peer" in line), None)
        print("\n## End-to-end from JPEG bytes (issue 4), fp16\n")
        print("| pipeline | images | errors | whole job s | images/s | vs PyTorch | decoded cpu / gpu | bottleneck |")
        print("|---|---|---|---|---|---|---|---|")
        for line in jpeg:
            ratio = f"{line['images_per_second'] / peer:.2f}x" if peer else "-"
            if "peer" in line:
                print(f"| {line['peer']} | {line['images']} | - | {line['seconds']:.2f} | "
                      f"{line['images_per_second']:,.0f} | 1.00x | PIL | - |")
            else:
                decoded = line["decoded"]
                print(f"| sluice run --decode {line['decode']} | {line['images']} | {line['errors']} | "
                      f"{line['seconds']:.2f} | {line['images_per_second']:,.0f} | {ratio} | "
                      f"{decoded['cpu']} / {decoded['gpu']} | {line['bottleneck']} |")


if __name__ == "__main__":
    main(sys.argv[1])
