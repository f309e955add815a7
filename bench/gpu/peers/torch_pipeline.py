"""The PyTorch end-to-end peer of `sluice run` on the benchmark's workload: the same seed-format
Parquet files (raw 256x256x3 images in `image`) read with pyarrow in DataLoader workers, one file
per DataLoader item, then ResNet50 on the GPU.

  as-written: the benchmark's transforms on the CPU (float32 crop + normalize on 0-255 values),
              float32 batches shipped to the GPU;
  tuned:      uint8 224x224 crops shipped (pinned, non-blocking), normalize + layout on the GPU,
              channels_last, predictions kept on the GPU until the end (no sync per batch).
Prints one JSON line (seconds from the start of main, time to the first 256-image batch's
predictions, images/s); bench/gpu/run.sh adds the process' wall time, torch's import included."""
import argparse
import glob
import json
import time

import numpy as np
import pyarrow.parquet as pq
import torch
import torchvision

from peer_device import add_device_argument, synchronize

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class ParquetFiles(torch.utils.data.Dataset):
    def __init__(self, files, tuned):
        self.files = files
        self.tuned = tuned

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        column = pq.read_table(self.files[index], columns=["image"]).column("image").combine_chunks()
        images = column.values.to_numpy(zero_copy_only=False).reshape(len(column), 256, 256, 3)
        crops = images[:, 16:240, 16:240, :]
        if self.tuned:
            return torch.from_numpy(np.ascontiguousarray(crops))
        # As the benchmark wrote it: float32, normalized on 0-255 values, NCHW, on the CPU.
        normalized = (crops.astype(np.float32) - MEAN) / STD
        return torch.from_numpy(np.ascontiguousarray(normalized.transpose(0, 3, 1, 2)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True, help="folder of seed-format Parquet files")
    parser.add_argument("--variant", choices=("as-written", "tuned"), default="tuned")
    parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp16")
    parser.add_argument("--workers", type=int, default=15)
    add_device_argument(parser)
    args = parser.parse_args()
    device = args.device

    start = time.perf_counter()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True  # the fp32 peer is PyTorch's default fp32 (TF32 convolutions)
    dtype = torch.float16 if args.precision == "fp16" else torch.float32
    model = torchvision.models.resnet50().eval().to(device).to(dtype=dtype)
    if args.variant == "tuned":
        model = model.to(memory_format=torch.channels_last)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 1.0
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * 1.0
    files = sorted(glob.glob(f"{args.input}/*.parquet"))
    loader = torch.utils.data.DataLoader(ParquetFiles(files, args.variant == "tuned"), batch_size=None,
                                         num_workers=args.workers, pin_memory=device == "cuda", prefetch_factor=2)
    images = 0
    first_batch = None
    predictions = []
    with torch.inference_mode():
        for batch in loader:
            batch = batch.to(device, non_blocking=True)
            if args.variant == "tuned":
                batch = batch.permute(0, 3, 1, 2).float().sub_(mean).div_(std)
                batch = batch.to(dtype=dtype, memory_format=torch.channels_last)
            else:
                batch = batch.to(dtype=dtype)
            for chunk in batch.split(256):
                top5 = torch.topk(torch.softmax(model(chunk).float(), dim=1), 5).indices
                # As written, each batch's predictions come back to the host (the benchmark's UDF
                # returns them); tuned, they stay on the GPU until the end.
                predictions.append(top5 if args.variant == "tuned" else top5.cpu())
                images += len(chunk)
                if first_batch is None:
                    synchronize(device)
                    first_batch = time.perf_counter() - start
        predicted = torch.cat(predictions).cpu() if predictions else None
    seconds = time.perf_counter() - start
    print(json.dumps({"peer": f"pytorch DataLoader ({args.workers} workers), {args.variant}",
                      "variant": args.variant, "precision": args.precision, "images": images,
                      "predicted": 0 if predicted is None else len(predicted), "seconds": seconds,
                      "first_batch_seconds": first_batch, "images_per_second": images / seconds,
                      "torch": torch.__version__, "cudnn": torch.backends.cudnn.version()}))


if __name__ == "__main__":
    main()
