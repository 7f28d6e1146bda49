"""
A PyTorch reference TimeSformer (divided space-time attention) for `npm run bench:model`, written for this kit.

It follows the semantics the kit reproduces (see the kit's README and test/fixtures/official/README.md): patch
embedding by a strided conv, cls token, pos_embed over [cls, patches], time_embed added to patch tokens only, token
order (patch, time); per block temporal attention over each patch's T tokens -> temporal_fc -> residual, spatial
attention per frame over [input cls, the frame's patches] with the T cls outputs averaged, then the MLP; pre-norm
LayerNorm eps 1e-6, exact GELU, stochastic depth growing linearly over the blocks. Parameter names are the official
checkpoint's, so official weights load as they are.

Needs only torch (no numpy, no safetensors package). Usage:
  python timesformer_ref.py check FIXTURES_DIR          # parameter count, logits and gradients vs the fixtures
  python timesformer_ref.py bench JSON_SPEC             # one timed run; prints one JSON line
"""
import json
import os
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # x: [groups, length, dim]
        g, n, d = x.shape
        q, k, v = self.qkv(x).reshape(g, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        weights = torch.softmax((q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5, dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(g, n, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


def drop_path(x, rate, training):
    """Zeroes whole samples (leading axis) with probability `rate`, scales the rest by 1 / (1 - rate)."""
    if rate == 0.0 or not training:
        return x
    keep = torch.floor(torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype) + (1 - rate))
    return x * keep / (1 - rate)


class DividedBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, drop_rate):
        super().__init__()
        self.drop_rate = drop_rate
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.temporal_norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.temporal_attn = Attention(dim, heads)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x, frames):  # x: [b, 1 + n t, d], patch tokens ordered (n, t)
        b, length, d = x.shape
        t = frames
        n = (length - 1) // t
        cls, patches = x[:, :1], x[:, 1:]
        # temporal attention within each patch's t tokens
        by_patch = patches.reshape(b * n, t, d)
        temporal = drop_path(self.temporal_attn(self.temporal_norm1(by_patch)), self.drop_rate, self.training)
        xt = patches + self.temporal_fc(temporal.reshape(b, n * t, d))
        # spatial attention within each frame, the input cls token repeated per frame
        by_frame = xt.reshape(b, n, t, d).transpose(1, 2).reshape(b * t, n, d)
        with_cls = torch.cat([cls.repeat_interleave(t, dim=0), by_frame], dim=1)
        spatial = drop_path(self.attn(self.norm1(with_cls)), self.drop_rate, self.training)
        cls_residual = spatial[:, :1].reshape(b, t, d).mean(dim=1, keepdim=True)
        patch_residual = spatial[:, 1:].reshape(b, t, n, d).transpose(1, 2).reshape(b, n * t, d)
        x = torch.cat([cls + cls_residual, xt + patch_residual], dim=1)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_rate, self.training)


class TimeSformerRef(nn.Module):
    def __init__(self, img_size, patch_size, frames, dim, depth, heads, mlp_ratio, classes, drop_path_rate=0.0):
        super().__init__()
        patches = (img_size // patch_size) ** 2
        self.patch_size = patch_size
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, patches + 1, dim) * 0.02)
        self.time_embed = nn.Parameter(torch.zeros(1, frames, dim))
        rates = [drop_path_rate * i / (depth - 1) if depth > 1 else drop_path_rate for i in range(depth)]
        self.blocks = nn.ModuleList([DividedBlock(dim, heads, mlp_ratio, r) for r in rates])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, video):  # video: [b, 3, t, h, w]
        b, c, t, h, w = video.shape
        frames = video.transpose(1, 2).reshape(b * t, c, h, w)
        tokens = self.patch_embed.proj(frames).flatten(2).transpose(1, 2)  # [(b t), n, d]
        n, d = tokens.shape[1], tokens.shape[2]
        cls = self.cls_token + self.pos_embed[:, :1]  # [1, 1, d]
        tokens = tokens + self.pos_embed[:, 1:]
        time_embed = self.time_embed
        if t != time_embed.shape[1]:  # legacy nearest: source index floor(i * in / out)
            index = [min(time_embed.shape[1] - 1, (i * time_embed.shape[1]) // t) for i in range(t)]
            time_embed = time_embed[:, index]
        tokens = tokens.reshape(b, t, n, d).transpose(1, 2) + time_embed.unsqueeze(1)  # [b, n, t, d]
        x = torch.cat([cls.expand(b, 1, d), tokens.reshape(b, n * t, d)], dim=1)
        for block in self.blocks:
            x = block(x, t)
        return self.head(self.norm(x)[:, 0])


# ---- minimal readers for the fixtures (the venv has no numpy or safetensors) ----

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "<f4": torch.float32, "<f8": torch.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    body = data[8 + header_len:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(body[start:end]), dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    header_len = struct.unpack("<H", data[8:10])[0] if data[6] == 1 else struct.unpack("<I", data[8:12])[0]
    offset = 10 if data[6] == 1 else 12
    header = eval(data[offset:offset + header_len].decode("latin1"), {"__builtins__": {}}, {"True": True, "False": False})
    if header["fortran_order"]:
        raise ValueError(f"{path}: Fortran order is not supported")
    tensor = torch.frombuffer(bytearray(data[offset + header_len:]), dtype=DTYPES[header["descr"]])
    return tensor.reshape(header["shape"])


def check(fixtures):
    """Loads the official divided-space-time fixture weights and compares logits and gradients."""
    manifest = json.load(open(f"{fixtures}/manifest.json"))
    cfg = manifest["config"]
    model = TimeSformerRef(cfg["img_size"], cfg["patch_size"], cfg["num_frames"], cfg["embed_dim"], cfg["depth"],
                           cfg["num_heads"], cfg["mlp_ratio"], cfg["num_classes"]).double().eval()
    weights = {k[len("model."):]: v.double() for k, v in read_safetensors(f"{fixtures}/divided_space_time/weights.safetensors").items()}
    model.load_state_dict(weights, strict=True)  # raises on any missing or unexpected key
    result = {"params": sum(p.numel() for p in model.parameters()),
              "fixtureParams": sum(v.numel() for v in weights.values()), "logitsMaxAbsDiff": {}}
    for name in ["clip_t8_s32", "clip_t4_s32", "clip_t1_s32"]:
        x = read_npy(f"{fixtures}/inputs/{name}.npy").double()
        expected = read_npy(f"{fixtures}/divided_space_time/logits_{name}.npy").double()
        with torch.no_grad():
            result["logitsMaxAbsDiff"][name] = (model(x) - expected).abs().max().item()
    x = read_npy(f"{fixtures}/inputs/clip_t8_s32.npy").double().requires_grad_(True)
    r = read_npy(f"{fixtures}/divided_space_time/grads/R.npy").double()
    (model(x) * r).sum().backward()
    worst = (x.grad - read_npy(f"{fixtures}/divided_space_time/grads/input.npy").double()).abs().max().item()
    compared = 0
    for name, p in model.named_parameters():  # the fixtures hold a selection of parameters' gradients
        path = f"{fixtures}/divided_space_time/grads/model.{name}.npy"
        if os.path.exists(path):
            worst = max(worst, (p.grad - read_npy(path).double()).abs().max().item())
            compared += 1
    result["gradsMaxAbsDiff"] = worst
    result["gradsCompared"] = compared + 1  # + the input's
    result["ok"] = (result["params"] == result["fixtureParams"] and max(result["logitsMaxAbsDiff"].values()) < 1e-4
                    and worst < 1e-4 and compared > 0)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench(spec):
    """spec: {preset fields, batch, classes, mode: train|inference, steps, warmup, dropPath, lr, weightDecay}."""
    torch.set_num_threads(spec.get("threads", 1))
    torch.manual_seed(0)
    model = TimeSformerRef(spec["imageSize"], spec["patchSize"], spec["frames"], spec["dim"], spec["depth"],
                           spec["numHeads"], spec["mlpRatio"], spec["classes"], spec.get("dropPath", 0.0))
    b = spec["batch"]
    x = torch.randn(b, 3, spec["frames"], spec["imageSize"], spec["imageSize"])
    y = torch.arange(b) % spec["classes"]
    if spec["mode"] == "train":
        model.train()
        no_decay = [p for n, p in model.named_parameters() if n.endswith(".bias") or "norm" in n or n in ("cls_token", "pos_embed", "time_embed")]
        decay = [p for n, p in model.named_parameters() if not any(p is q for q in no_decay)]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": spec.get("weightDecay", 0.05)},
                                       {"params": no_decay, "weight_decay": 0.0}], lr=spec.get("lr", 1e-4))

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss.item()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                return model(x).sum().item()
    for _ in range(spec.get("warmup", 2)):
        step()
    wall, cpu = [], []
    for _ in range(spec["steps"]):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    print(json.dumps({"implementation": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "params": sum(p.numel() for p in model.parameters()),
                      "msPerStep": sorted(wall)[len(wall) // 2], "cpuMsPerStep": sorted(cpu)[len(cpu) // 2],
                      "peakRssMb": peak_rss_mb(), "steps": spec["steps"]}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "bench":
        sys.exit(bench(json.loads(sys.argv[2])))
    sys.exit(__doc__)
