#!/usr/bin/python3
"""safetensors_check.py: the PyTorch side of cugen's safetensors round trip.

    /usr/bin/python3 scripts/safetensors_check.py write tests/ref/torch_written.safetensors
    /usr/bin/python3 scripts/safetensors_check.py seeds tests/fuzz/corpus/fuzz_safetensors
    /usr/bin/python3 scripts/safetensors_check.py check FILE [--weights] [--against TORCH_FILE]

Debian's python3 has torch but not the `safetensors` package, so the format
is read and written here in plain Python (json, struct, zlib,
torch.frombuffer): a second implementation of the published format,
independent of cugen's C code.

write   A small file as PyTorch would save it: the state_dict of
        nn.Linear(3, 2) ("fc.*") and nn.BatchNorm2d(4) ("bn.*", after two
        training-mode forward passes, so running stats are not the defaults
        and num_batches_tracked is the I64 scalar 2), plus F64, I32, U8, a
        0-dim F32 and an empty (0, 3) F32 tensor. Layout as the reference
        writer makes it: tensors ordered by dtype size (largest first), then
        name; header padded with spaces to a multiple of 8; metadata
        {"format": "pt"}; no CRCs. The values it prints are the ones
        tests/unit/test_safetensors.c expects.
seeds   Tiny valid files for the fuzzer's seed corpus.
check   Validates a file written by cugen against the format rules
        (header size, padding, strict JSON with no duplicate keys, dtypes,
        sizes, contiguous offsets, no trailing bytes, CRC-32 entries), then
        with --weights loads it into the same two modules with
        load_state_dict(strict=True) and, with --against, compares every
        tensor bit for bit with the torch-written file. The unit test
        st_torch_file_reads_and_loads_into_params writes such files into the folder
        named by $CUGEN_ST_EXPORT.
"""
import json
import struct
import sys
import zlib

import torch
import torch.nn as nn

DTYPES = {  # name: (torch dtype, bytes)
    "BOOL": (torch.bool, 1), "U8": (torch.uint8, 1), "I8": (torch.int8, 1),
    "I16": (torch.int16, 2), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
    "I32": (torch.int32, 4), "F32": (torch.float32, 4), "I64": (torch.int64, 8),
    "F64": (torch.float64, 8),
}
NAME_OF = {v[0]: k for k, v in DTYPES.items()}
# torch 1.13 has no uint16/32/64: read them as the signed type of their size
# (the same bits; cugen writes its seed as a U64)
DTYPES.update({"U16": (torch.int16, 2), "U32": (torch.int32, 4), "U64": (torch.int64, 8)})


def encode(tensors, metadata=None, crc=False, separators=(", ", ": ")):
    """tensors: dict name -> tensor. Returns the file's bytes."""
    order = sorted(tensors, key=lambda n: (-DTYPES[NAME_OF[tensors[n].dtype]][1], n))
    header, blobs, at = {}, [], 0
    meta = dict(metadata or {})
    for name in order:
        t = tensors[name].detach().contiguous()
        raw = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": NAME_OF[t.dtype], "shape": list(t.shape),
                        "data_offsets": [at, at + len(raw)]}
        if crc:
            meta["crc32." + name] = "%08x" % zlib.crc32(raw)
        blobs.append(raw)
        at += len(raw)
    if meta:
        header = {"__metadata__": meta, **header}
    text = json.dumps(header, separators=separators, ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def modules():
    fc, bn = nn.Linear(3, 2), nn.BatchNorm2d(4)
    with torch.no_grad():
        fc.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3) / 8 - 0.3)
        fc.bias.copy_(torch.tensor([0.5, -1.25]))
        bn.weight.copy_(torch.tensor([1.0, 0.5, 2.0, -1.0]))
        bn.bias.copy_(torch.tensor([0.0, 0.1, -0.2, 0.3]))
    return fc, bn


def state_dict(fc, bn):
    sd = {"fc." + k: v for k, v in fc.state_dict().items()}
    sd.update({"bn." + k: v for k, v in bn.state_dict().items()})
    return sd


def cmd_write(path):
    fc, bn = modules()
    bn.train()
    g = torch.Generator().manual_seed(7)
    for _ in range(2):
        bn(torch.randn(3, 4, 2, 2, generator=g))
    sd = state_dict(fc, bn)
    sd["extra.f64"] = torch.tensor([[1.0 / 3, -2.5], [1e300, 0.0]], dtype=torch.float64)
    sd["extra.i32"] = torch.tensor([-7, 2147483647], dtype=torch.int32)
    sd["extra.u8"] = torch.tensor([0, 128, 255], dtype=torch.uint8)
    sd["extra.scalar"] = torch.tensor(1.5)
    sd["extra.empty"] = torch.zeros(0, 3)
    with open(path, "wb") as f:
        f.write(encode(sd, {"format": "pt"}))
    for k in ("bn.running_mean", "bn.running_var"):
        print(k, ", ".join("%.9g" % x for x in sd[k].tolist()))
    print("bn.num_batches_tracked", int(sd["bn.num_batches_tracked"]))


def cmd_seeds(folder):
    seeds = {
        "empty": {},
        "one_f32": {"x": torch.tensor([1.0, 2.0])},
        "scalar_i64": {"n": torch.tensor(3)},
        "mixed": {"a.w": torch.ones(2, 3), "b": torch.tensor([1, 2], dtype=torch.int32),
                  "c": torch.zeros(0, 2), "d": torch.tensor([1], dtype=torch.uint8)},
        "unicode": {"\u00e9t\u00e9\"\\\n": torch.tensor([0.5])},
    }
    for name, tensors in seeds.items():
        crc = name != "empty"
        meta = {"format": "pt"} if name in ("mixed", "unicode") else None
        with open("%s/%s.safetensors" % (folder, name), "wb") as f:
            f.write(encode(tensors, meta, crc=crc, separators=(",", ":")))


class Bad(Exception):
    pass


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Bad("duplicate key in %r" % keys)
    return dict(pairs)


def parse(blob):
    """Checks blob against the format; returns (metadata, {name: tensor})."""
    if len(blob) < 8:
        raise Bad("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n == 0 or n > 100_000_000 or n > len(blob) - 8:
        raise Bad("header size %d" % n)
    text = blob[8:8 + n]
    if (8 + n) % 8:
        raise Bad("data does not start at a multiple of 8 (header %d bytes)" % n)
    if not text.startswith(b"{") or text.rstrip(b" ") != text.strip():
        raise Bad("header must start with '{' and be padded with spaces only")
    header = json.loads(text.decode("utf-8"), object_pairs_hook=no_duplicates,
                        parse_constant=lambda c: (_ for _ in ()).throw(Bad(c)))
    meta = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise Bad("metadata must map strings to strings")
    data, spans, out = blob[8 + n:], [], {}
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            raise Bad("%s: fields %s" % (name, sorted(info)))
        dt, size = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        numel = 1
        for d in info["shape"]:
            numel *= d
        if end - begin != numel * size or end > len(data):
            raise Bad("%s: offsets %r for shape %r" % (name, info["data_offsets"], info["shape"]))
        spans.append((begin, end, name))
        raw = data[begin:end]
        if "crc32." + name in meta and meta["crc32." + name] != "%08x" % zlib.crc32(raw):
            raise Bad("%s: CRC-32 mismatch" % name)
        t = torch.frombuffer(bytearray(raw), dtype=dt) if numel else torch.zeros(0, dtype=dt)
        out[name] = t.reshape(info["shape"])
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            raise Bad("%s starts at %d, expected %d" % (name, begin, at))
        at = end
    if at != len(data):
        raise Bad("%d trailing bytes" % (len(data) - at))
    return meta, out


def cmd_check(path, args):
    with open(path, "rb") as f:
        meta, tensors = parse(f.read())
    crcs = [k for k in meta if k.startswith("crc32.")]
    print("%s: valid; %d tensors, %d CRC-32 entries checked, metadata %s" % (
        path, len(tensors), len(crcs), {k: v for k, v in meta.items() if k not in crcs}))
    if "--weights" in args:
        fc, bn = modules()
        weights = {k: v for k, v in tensors.items()
                   if not k.startswith(("optim.", "train.", "ema."))}
        fc.load_state_dict({k[3:]: v for k, v in weights.items() if k.startswith("fc.")})
        bn.load_state_dict({k[3:]: v for k, v in weights.items() if k.startswith("bn.")})
        if set(weights) != set(state_dict(fc, bn)):
            raise Bad("names differ from the modules' state_dict")
        print("  load_state_dict(strict=True) into nn.Linear(3, 2) and nn.BatchNorm2d(4): ok")
    if "--against" in args:
        with open(args[args.index("--against") + 1], "rb") as f:
            _, ref = parse(f.read())
        for name, t in tensors.items():
            if name not in ref:
                continue
            r = ref[name]
            same = t.shape == r.shape and t.dtype == r.dtype and torch.equal(t, r)
            print("  %-24s %-14s %s" % (name, str(t.dtype)[6:] + str(list(t.shape)),
                                        "bit-identical" if same else "DIFFERS"))
            if not same:
                raise Bad("%s differs from the torch-written file" % name)


def main(argv):
    if len(argv) >= 3 and argv[1] == "write":
        cmd_write(argv[2])
    elif len(argv) >= 3 and argv[1] == "seeds":
        cmd_seeds(argv[2])
    elif len(argv) >= 3 and argv[1] == "check":
        try:
            cmd_check(argv[2], argv[3:])
        except (Bad, KeyError, ValueError, RuntimeError) as e:
            print("%s: INVALID: %s" % (argv[2], e))
            return 1
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
