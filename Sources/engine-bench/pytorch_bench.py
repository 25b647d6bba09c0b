"""PyTorch counterpart of engine-bench, to measure PyTorch's figures on the machine at hand.
Same workloads, phases and timing (best of N after a warm-up); eval-mode BN for inference and
the attack step, train mode for the SGD step. Run it in a throwaway virtual environment outside
the repository, minutes apart from engine-bench, and pass the JSON to engine-bench --pytorch:
  python pytorch_bench.py [--threads 2] [--iterations 3] [--batch N] [--precision bf16] --json /tmp/pytorch.json
--precision bf16 runs every phase under torch.autocast("cpu", dtype=torch.bfloat16): convolutions
and the linear layer in bf16, fp32 master weights (engine-bench --precision bf16 is its twin)."""
import argparse, contextlib, datetime, json, resource, time, torch, torch.nn as nn, torch.nn.functional as F

class Basic(nn.Module):
    expansion = 1
    def __init__(s, i, planes, st):
        super().__init__()
        s.conv1 = nn.Conv2d(i, planes, 3, st, 1, bias=False); s.bn1 = nn.BatchNorm2d(planes)
        s.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(planes)
        s.downsample = None if st == 1 and i == planes else nn.Sequential(nn.Conv2d(i, planes, 1, st, bias=False), nn.BatchNorm2d(planes))
    def forward(s, x):
        r = x if s.downsample is None else s.downsample(x)
        return torch.relu(s.bn2(s.conv2(torch.relu(s.bn1(s.conv1(x))))) + r)

class Bottleneck(nn.Module):
    expansion = 4
    def __init__(s, i, planes, st):
        super().__init__()
        o = planes * 4
        s.conv1 = nn.Conv2d(i, planes, 1, bias=False); s.bn1 = nn.BatchNorm2d(planes)
        s.conv2 = nn.Conv2d(planes, planes, 3, st, 1, bias=False); s.bn2 = nn.BatchNorm2d(planes)
        s.conv3 = nn.Conv2d(planes, o, 1, bias=False); s.bn3 = nn.BatchNorm2d(o)
        s.downsample = None if st == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, st, bias=False), nn.BatchNorm2d(o))
    def forward(s, x):
        r = x if s.downsample is None else s.downsample(x)
        y = torch.relu(s.bn1(s.conv1(x))); y = torch.relu(s.bn2(s.conv2(y)))
        return torch.relu(s.bn3(s.conv3(y)) + r)

class ResNet(nn.Module):
    def __init__(s, block, blocks, width, classes, cifar):
        super().__init__()
        s.cifar = cifar
        s.conv1 = nn.Conv2d(3, width, 3 if cifar else 7, 1 if cifar else 2, 1 if cifar else 3, bias=False); s.bn1 = nn.BatchNorm2d(width)
        i = width
        for li, n in enumerate(blocks):
            layer = []
            for k in range(n):
                layer.append(block(i, width << li, (1 if li == 0 else 2) if k == 0 else 1)); i = (width << li) * block.expansion
            setattr(s, f"layer{li + 1}", nn.Sequential(*layer))
        s.nstages = len(blocks)
        s.fc = nn.Linear(i, classes)
        s.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        s.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
    def forward(s, x):
        x = torch.relu(s.bn1(s.conv1((x - s.mean) / s.std)))
        if not s.cifar: x = F.max_pool2d(x, 3, 2, 1)
        for li in range(s.nstages): x = getattr(s, f"layer{li + 1}")(x)
        return s.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

class Detector(nn.Module):
    """train-detector's network (AttributeDetector): 3x3 convolutions with bias and ReLU, a 1x1 head."""
    def __init__(s, widths=(24, 32, 32, 32, 32), outputs=15 + 1 + 208):
        super().__init__()
        layers, i = [], 3
        for w in widths: layers += [nn.Conv2d(i, w, 3, 1, 1), nn.ReLU()]; i = w
        s.body = nn.Sequential(*layers); s.head = nn.Conv2d(i, outputs, 1)
    def forward(s, x):
        return s.head(s.body((x - 0.5) / 0.25))

WORKLOADS = {
    "resnet8-32": (lambda: ResNet(Basic, [1, 1, 1], 16, 10, True), 32, 128, 10),
    "resnet20-32": (lambda: ResNet(Basic, [3, 3, 3], 16, 10, True), 32, 128, 10),
    "resnet18-64": (lambda: ResNet(Basic, [2, 2, 2, 2], 64, 1000, False), 64, 64, 1000),
    "resnet18-224": (lambda: ResNet(Basic, [2, 2, 2, 2], 64, 1000, False), 224, 16, 1000),
    "resnet50-224": (lambda: ResNet(Bottleneck, [3, 4, 6, 3], 64, 1000, False), 224, 8, 1000),
    "detector-32": (Detector, 32, 16, None),
}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2); ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--workload", action="append"); ap.add_argument("--phase", action="append")
    ap.add_argument("--batch", type=int, help="images per batch instead of each workload's own")
    ap.add_argument("--json", help="also write the figures to this file, for engine-bench --pytorch")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: autocast to bfloat16 on the CPU")
    a = ap.parse_args()
    results = []
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, {a.precision}, best of {a.iterations}")
    precision = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.precision == "bf16" else contextlib.nullcontext
    for name in a.workload or ["resnet8-32", "resnet20-32", "resnet18-64", "resnet18-224", "detector-32"]:
        make, size, batch, classes = WORKLOADS[name]
        batch = a.batch or batch
        model = make(); x = torch.rand(batch, 3, size, size); y = torch.randint(0, classes or 1, (batch,))
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        if classes is None:  # the detector: the mean squared logit, a plain gradient step, no attack phase
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
        def inference():
            model.eval()
            with torch.no_grad(), precision(): model(x)
        def attack():
            model.eval(); xg = x.clone().requires_grad_(True)
            with precision(): loss = F.cross_entropy(model(xg), y)
            torch.autograd.grad(loss, xg)
        def train():
            model.train(); opt.zero_grad()
            with precision(): out = model(x); loss = out.float().square().mean() if classes is None else F.cross_entropy(out, y)
            loss.backward(); opt.step()
        for phase in a.phase or ["inference", "attack", "train"]:
            if classes is None and phase == "attack": continue
            fn = {"inference": inference, "attack": attack, "train": train}[phase]
            fn(); times = []; cpu = []
            for _ in range(a.iterations):
                t = time.perf_counter(); c = time.process_time(); fn()
                times.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
            # CPU time over the threads: the wall time with the cores to ourselves (as engine-bench reports).
            print(f"{name:15} {phase:10} {batch / min(times):8.1f} img/s (mean {batch * len(times) / sum(times):.1f}), "
                  f"from CPU time {batch * a.threads / min(cpu):.1f}", flush=True)
            results.append({"workload": name, "phase": phase, "batch": batch,
                            "images_per_second": batch / min(times),
                            "mean_images_per_second": batch * len(times) / sum(times),
                            "cpu_images_per_second": batch * a.threads / min(cpu)})
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1048576:.2f} GB")
    if a.json:
        created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with open(a.json, "w") as f:
            json.dump({"torch_version": torch.__version__, "threads": torch.get_num_threads(), "precision": a.precision,
                       "created": created, "results": results}, f, indent=1)
        print(f"figures: {a.json} (engine-bench --pytorch {a.json})")

if __name__ == "__main__":
    main()
