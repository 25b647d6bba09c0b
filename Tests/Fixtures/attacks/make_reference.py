"""torchattacks reference results for attrib-adv's attacks (Tests/ClassifierKitTests/ReferenceAttackTests.swift).

Runs torchattacks' APGD (CE), APGDT, Square, CW, DeepFool and the AutoAttack sequence without
FAB-T (MultiAttack of APGD-CE, APGDT, Square) on an attrib-adv model file and the first COUNT
test images of an images.h5, and writes, into OUT:
  model.h5      a copy of the model file (the Swift test loads it as is)
  reference.h5  images uint8 [N,H,W,3], labels int32 [N], clean_predictions int32 [N], and one
                group per attack with adv_predictions int32 [N], norm float32 [N] (L-inf for the
                L-inf attacks, L2 for cw-l2 and deepfool) and the settings and robust_accuracy as
                attributes.
Run in a throwaway venv outside the repository (pip install torch torchattacks h5py numpy):
  nice -n 10 python make_reference.py robust.h5 images.h5 Tests/Fixtures/attacks \
      --count 80 --eps 0.015 --l2-eps 0.3 --steps 20 --queries 300 --targets 3
(the fixture's model and images: docs/attacks.md § Reference checks)
"""
import argparse, os, shutil, sys
import h5py, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
import torchattacks

p = argparse.ArgumentParser()
p.add_argument("model"); p.add_argument("images"); p.add_argument("out")
p.add_argument("--count", type=int, default=100)
p.add_argument("--eps", type=float, default=0.01)
p.add_argument("--l2-eps", type=float, default=0.25)
p.add_argument("--steps", type=int, default=50)
p.add_argument("--queries", type=int, default=1000)
p.add_argument("--targets", type=int, default=9, help="APGD-T's target classes (at most classes - 1)")
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
torch.set_num_threads(2)


class Block(nn.Module):
    """attrib-adv's CIFAR basic block: 1x1 conv + BN projection shortcut when the shape changes."""
    def __init__(s, i, o, st):
        super().__init__()
        s.conv1 = nn.Conv2d(i, o, 3, st, 1, bias=False); s.bn1 = nn.BatchNorm2d(o)
        s.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(o)
        s.downsample = None if st == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, st, bias=False), nn.BatchNorm2d(o))
    def forward(s, x):
        r = x if s.downsample is None else s.downsample(x)
        return torch.relu(s.bn2(s.conv2(torch.relu(s.bn1(s.conv1(x))))) + r)


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for small images, normalising inside like attrib-adv's models."""
    def __init__(s, n, w, classes, mean, std):
        super().__init__()
        s.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        s.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        s.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False); s.bn1 = nn.BatchNorm2d(w)
        i = w
        for li, (o, st) in enumerate([(w, 1), (2 * w, 2), (4 * w, 2)], 1):
            blocks = []
            for k in range(n): blocks.append(Block(i, o, st if k == 0 else 1)); i = o
            setattr(s, f"layer{li}", nn.Sequential(*blocks))
        s.fc = nn.Linear(i, classes)
    def forward(s, x):
        x = torch.relu(s.bn1(s.conv1((x - s.mean) / s.std)))
        return s.fc(F.adaptive_avg_pool2d(s.layer3(s.layer2(s.layer1(x))), 1).flatten(1))


with h5py.File(a.model, "r") as m:
    arch = m["arch"].attrs
    assert arch["name"].decode() if isinstance(arch["name"], bytes) else arch["name"], "model without arch/name"
    params = {k: torch.from_numpy(np.array(m["params"][k])) for k in m["params"].keys()}
    classes = int(arch["num_classes"])
    mean, std = [float(v) for v in arch["mean"]], [float(v) for v in arch["std"]]
width = params["conv1.weight"].shape[0]
blocks = len({k.split(".")[1] for k in params if k.startswith("layer1.")})
model = CifarResNet(blocks, width, classes, mean, std)
state = model.state_dict()
missing = [k for k in state if k not in params and not k.endswith("num_batches_tracked") and k not in ("mean", "std")]
assert not missing, f"model file lacks {missing}"
model.load_state_dict({k: params.get(k, state[k]).to(state[k].dtype) for k in state})
model.eval()

with h5py.File(a.images, "r") as f:
    split = np.array(f["split"])
    rows = np.nonzero(split == 2)[0][: a.count]
    images = np.array(f["images"][rows[0]: rows[-1] + 1])[rows - rows[0]]
    labels = np.array(f["labels"])[rows].astype(np.int64)
x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
y = torch.from_numpy(labels)
with torch.no_grad():
    clean = model(x).argmax(1)
print(f"{classes} classes, {len(rows)} images, clean accuracy {(clean == y).float().mean():.3f}", file=sys.stderr)


class MarginCW(torchattacks.CW):
    """torchattacks' CW with the margin over the other classes taken as their largest logit
    (torchattacks multiplies the logits by (1 - one-hot), which reads 0 for the true class and
    so caps the runner-up logit below at 0 when every other logit is negative)."""
    def f(self, outputs, labels):
        one_hot = torch.eye(outputs.shape[1])[labels].bool()
        other = outputs.masked_fill(one_hot, -float("inf")).max(1)[0]
        real = outputs[one_hot]
        return torch.clamp(real - other, min=-self.kappa)


def norm(adv, kind):
    d = (adv - x).flatten(1)
    return (d.abs().max(1)[0] if kind == "linf" else d.norm(dim=1)).numpy().astype(np.float32)


K = classes
attacks = {
    "apgd-ce": ("linf", dict(steps=a.steps, restarts=1),
                lambda: torchattacks.APGD(model, norm="Linf", eps=a.eps, steps=a.steps, n_restarts=1, seed=0, loss="ce")),
    "apgd-dlr": ("linf", dict(steps=a.steps, restarts=1, targets=min(a.targets, K - 1)),
                 lambda: torchattacks.APGDT(model, norm="Linf", eps=a.eps, steps=a.steps, n_restarts=1, seed=0,
                                            n_classes=min(a.targets, K - 1) + 1)),
    "square": ("linf", dict(queries=a.queries, p_init=0.8, restarts=1),
               lambda: torchattacks.Square(model, norm="Linf", eps=a.eps, n_queries=a.queries, p_init=0.8, seed=0)),
    "autoattack": ("linf", dict(steps=a.steps, targets=min(a.targets, K - 1), queries=a.queries),
                   lambda: torchattacks.MultiAttack([
                       torchattacks.APGD(model, norm="Linf", eps=a.eps, steps=a.steps, n_restarts=1, seed=0, loss="ce"),
                       torchattacks.APGDT(model, norm="Linf", eps=a.eps, steps=a.steps, n_restarts=1, seed=0,
                                          n_classes=min(a.targets, K - 1) + 1),
                       torchattacks.Square(model, norm="Linf", eps=a.eps, n_queries=a.queries, p_init=0.8, seed=0)])),
    "cw-l2": ("l2", dict(steps=100, search_steps=1, initial_const=1.0, learning_rate=0.01, confidence=0.0),
              lambda: MarginCW(model, c=1, kappa=0, steps=100, lr=0.01)),
    "deepfool": ("l2", dict(steps=a.steps, overshoot=0.02), lambda: torchattacks.DeepFool(model, steps=a.steps, overshoot=0.02)),
}

with h5py.File(f"{a.out}/reference.h5", "w") as out:
    out.attrs["generator"] = f"torchattacks {torchattacks.__version__}, PyTorch {torch.__version__}, make_reference.py"
    out.attrs["source_rows"] = rows.astype(np.int64)
    out.create_dataset("images", data=images, compression="gzip")
    out.create_dataset("labels", data=labels.astype(np.int32))
    out.create_dataset("clean_predictions", data=clean.numpy().astype(np.int32))
    for name, (kind, settings, make) in attacks.items():
        torch.manual_seed(0)
        adv = make()(x, y).detach()
        with torch.no_grad():
            pred = model(adv).argmax(1)
        n = norm(adv, kind)
        if kind == "l2":
            # A minimal-norm attack's perturbation counts under the budget only.
            fooled = (pred != y) & (clean == y)
            pred = torch.where(fooled & torch.from_numpy(n <= a.l2_eps), pred, clean)
            n = np.where(fooled.numpy(), n, np.inf).astype(np.float32)
        g = out.create_group(name)
        g.create_dataset("adv_predictions", data=pred.numpy().astype(np.int32))
        g.create_dataset("norm", data=n)
        g.attrs["norm_kind"] = kind
        g.attrs["eps"] = a.l2_eps if kind == "l2" else a.eps
        for k, v in settings.items(): g.attrs[k] = v
        g.attrs["robust_accuracy"] = float((pred == y).float().mean())
        found = n[np.isfinite(n)]
        print(f"{name:11s} robust accuracy {g.attrs['robust_accuracy']:.3f}"
              + (f", median minimal L2 {np.median(found):.4f} over {len(found)} fooled" if kind == "l2" else ""), file=sys.stderr)
shutil.copyfile(a.model, f"{a.out}/model.h5")
