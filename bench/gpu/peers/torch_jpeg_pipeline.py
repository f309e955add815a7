"""The PyTorch end-to-end peer of `sluice run` on encoded images: the JPEG/PNG bytes of
`sluice datagen --format jpeg` read with pyarrow in DataLoader workers (one row group per item),
each image decoded by PIL, then ResNet50 (fp16 or fp32, channels_last) on the GPU in batches of
exactly --batch-size images, top-5 on the GPU.

  as-specified: torchvision's Resize(256), CenterCrop(224), ToTensor, Normalize (ImageNet mean/std
                on [0,1] values, what sluice's default --normalize imagenet does) in the workers;
                float32 NCHW tensors shipped. The DataLoader pipeline of DESIGN.md's anchor (15
                workers, PIL: 2,460 images/s on the H100).
  tuned:        Resize + CenterCrop in the workers, uint8 crops shipped, normalized on the GPU.

Each row group goes to the GPU as it arrives (pinned by the DataLoader, copied without blocking)
and the batches are cut there; predictions stay on the GPU until the end. Prints one JSON line
(seconds from the start of main, time to the first batch's predictions, images/s);
bench/gpu/run.sh adds the process' wall time, torch's import included."""
import argparse
import glob
import io
import json
import time

import numpy as np
import pyarrow.parquet as pq
import torch
import torchvision
from PIL import Image
from torchvision import transforms

from peer_device import add_device_argument, synchronize

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


class RowGroups(torch.utils.data.Dataset):
    """One item per Parquet row group: its images, uint8 N x 224 x 224 x 3 (tuned) or float32
    N x 3 x 224 x 224 normalized (as-specified)."""

    def __init__(self, files, tuned):
        self.items = [(path, group) for path in files for group in range(pq.ParquetFile(path).num_row_groups)]
        self.tuned = tuned
        crop = [transforms.Resize(256), transforms.CenterCrop(224)]
        self.transform = transforms.Compose(crop if tuned else crop + [transforms.ToTensor(),
                                                                       transforms.Normalize(MEAN, STD)])

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        path, group = self.items[index]
        blobs = pq.ParquetFile(path).read_row_group(group, columns=["image"]).column("image").to_pylist()
        images = [self.transform(Image.open(io.BytesIO(blob)).convert("RGB")) for blob in blobs]
        if self.tuned:
            return torch.from_numpy(np.stack([np.asarray(image) for image in images]))
        return torch.stack(images)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True, help="folder of Parquet files with encoded images in `image`")
    parser.add_argument("--variant", choices=("as-specified", "tuned"), default="as-specified")
    parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp16")
    parser.add_argument("--workers", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=256)
    add_device_argument(parser)
    args = parser.parse_args()
    device = args.device

    start = time.perf_counter()
    torch.backends.cudnn.benchmark = True
    tuned = args.variant == "tuned"
    dtype = torch.float16 if args.precision == "fp16" else torch.float32
    model = torchvision.models.resnet50().eval().to(device).to(dtype=dtype, memory_format=torch.channels_last)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * 255
    files = sorted(glob.glob(f"{args.input}/*.parquet"))
    loader = torch.utils.data.DataLoader(RowGroups(files, tuned), batch_size=None, num_workers=args.workers,
                                         pin_memory=device == "cuda", prefetch_factor=4, persistent_workers=False)
    images = 0
    first_batch = None
    predictions = []
    pending = []  # row groups on the GPU, not yet a whole batch
    pending_images = 0
    with torch.inference_mode():
        def infer(batch):
            if tuned:
                batch = batch.permute(0, 3, 1, 2).float().sub_(mean).div_(std)
            logits = model(batch.to(dtype=dtype, memory_format=torch.channels_last))
            predictions.append(torch.topk(torch.softmax(logits.float(), dim=1), 5).indices)

        for group in loader:
            pending.append(group.to(device, non_blocking=True))
            pending_images += len(group)
            if pending_images < args.batch_size:
                continue
            gathered = torch.cat(pending)
            whole = pending_images // args.batch_size * args.batch_size
            for batch in gathered[:whole].split(args.batch_size):
                infer(batch)
                images += len(batch)
                if first_batch is None:
                    synchronize(device)
                    first_batch = time.perf_counter() - start
            pending = [gathered[whole:]] if whole < pending_images else []
            pending_images -= whole
        if pending_images:
            infer(torch.cat(pending))
            images += pending_images
        predicted = torch.cat(predictions).cpu() if predictions else None
    seconds = time.perf_counter() - start
    print(json.dumps({"peer": f"pytorch DataLoader ({args.workers} workers, PIL), {args.variant}", "jpeg": True,
                      "variant": args.variant, "precision": args.precision, "images": images,
                      "predicted": 0 if predicted is None else len(predicted), "seconds": seconds,
                      "first_batch_seconds": first_batch, "images_per_second": images / seconds,
                      "torch": torch.__version__, "cudnn": torch.backends.cudnn.version()}))


if __name__ == "__main__":
    main()
