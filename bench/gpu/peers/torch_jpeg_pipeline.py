"""The PyTorch end-to-end peer of `sluice run` on encoded images: the JPEG/PNG bytes of
`sluice datagen --format jpeg` read with pyarrow in DataLoader workers (one row group per item),
each image decoded by PIL and put through torchvision's Resize(256) + CenterCrop(224), uint8 crops
shipped pinned to the GPU, normalized there (ImageNet mean/std on [0,1] values, what sluice's
default --normalize imagenet does), then ResNet50 in fp16 channels_last and top-5 on the GPU.
This is the DataLoader pipeline of DESIGN.md's anchor (15 workers, PIL: 2,460 images/s on the H100).
Prints one JSON line (whole-job seconds, time to the first batch, images/s)."""
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

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


class RowGroups(torch.utils.data.Dataset):
    """One item per Parquet row group: its images as a uint8 N x 224 x 224 x 3 tensor."""

    def __init__(self, files):
        self.items = [(path, group) for path in files for group in range(pq.ParquetFile(path).num_row_groups)]
        self.transform = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        path, group = self.items[index]
        blobs = pq.ParquetFile(path).read_row_group(group, columns=["image"]).column("image").to_pylist()
        crops = np.empty((len(blobs), 224, 224, 3), dtype=np.uint8)
        for i, blob in enumerate(blobs):
            crops[i] = np.asarray(self.transform(Image.open(io.BytesIO(blob)).convert("RGB")))
        return torch.from_numpy(crops)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True, help="folder of Parquet files with encoded images in `image`")
    parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp16")
    parser.add_argument("--workers", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    start = time.perf_counter()
    torch.backends.cudnn.benchmark = True
    dtype = torch.float16 if args.precision == "fp16" else torch.float32
    model = torchvision.models.resnet50().eval().cuda().to(dtype=dtype, memory_format=torch.channels_last)
    mean = torch.tensor(MEAN, device="cuda").view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device="cuda").view(1, 3, 1, 1) * 255
    files = sorted(glob.glob(f"{args.input}/*.parquet"))
    loader = torch.utils.data.DataLoader(RowGroups(files), batch_size=None, num_workers=args.workers,
                                         pin_memory=True, prefetch_factor=4, persistent_workers=False)
    images = 0
    first_batch = None
    pending = []  # row groups are smaller than a batch: gather them
    with torch.inference_mode():
        def infer(crops):
            batch = crops.cuda(non_blocking=True).permute(0, 3, 1, 2).float().sub_(mean).div_(std)
            logits = model(batch.to(dtype=dtype, memory_format=torch.channels_last))
            return torch.topk(torch.softmax(logits.float(), dim=1), 5).indices.cpu()

        for crops in loader:
            pending.append(crops)
            if sum(len(c) for c in pending) < args.batch_size:
                continue
            batch = torch.cat(pending)
            pending = []
            infer(batch)
            images += len(batch)
            if first_batch is None:
                first_batch = time.perf_counter() - start
        if pending:
            batch = torch.cat(pending)
            infer(batch)
            images += len(batch)
    seconds = time.perf_counter() - start
    print(json.dumps({"peer": f"pytorch DataLoader ({args.workers} workers, PIL)", "jpeg": True,
                      "precision": args.precision, "images": images, "seconds": seconds,
                      "first_batch_seconds": first_batch, "images_per_second": images / seconds}))


if __name__ == "__main__":
    main()
