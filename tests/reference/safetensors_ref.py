#!/usr/bin/python3
"""Independent safetensors reader/writer (json + struct + numpy only) for xfmr's interop test.

Format (https://huggingface.co/docs/safetensors): u64 little-endian header length N, N bytes of JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the data buffer;
offsets are relative to the buffer and tensors tile it without gaps.

Usage:
  safetensors_ref.py write PATH [--unaligned]   write the shared test set (see expected_tensors)
  safetensors_ref.py check PATH                 read PATH (written by xfmr) and compare with the test set
The test set is defined twice on purpose: here and in tests/io/safetensors_test.cc (interop_expected).
Exit status 0 and "OK" on success; a message and status 1 otherwise.
"""
import json
import struct
import sys

import numpy as np

ITEMSIZE = {"F32": 4, "F64": 8, "BF16": 2, "F16": 2, "I32": 4, "I64": 8}
NUMPY = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I32": "<i4", "I64": "<i8", "BF16": "<u2"}


def eighths(n):
    """Values k/8 with |k| <= 50: exact in bf16, f16, f32 and f64."""
    return [((i * 37) % 101 - 50) / 8.0 for i in range(n)]


def expected_tensors():
    """name -> (dtype, shape, list of python values) in the order the python writer lays them out."""
    return {
        "w_f16": ("F16", [7], eighths(7)),
        "w_f32": ("F32", [3, 4], [((i * 37) % 101 - 50) / 8.0 + 0.1 for i in range(12)]),
        "w_f64": ("F64", [2, 3, 2], [((i * 37) % 101 - 50) / 8.0 + 1.0 / 3.0 for i in range(12)]),
        "w_bf16": ("BF16", [5, 3], eighths(15)),
        "idx_i64": ("I64", [4], [(i - 2) * 1152921504606846977 for i in range(4)]),
        "idx_i32": ("I32", [2, 3], [-2147483648, 2147483647, 0, -1, 12345, -54321]),
        "scalar_f32": ("F32", [], [2.5]),
        "empty_f32": ("F32", [0, 3], []),
    }


EXPECTED_METADATA = {"format": "pt", "step": "1234", "note": "unicode \u2713 and \"quotes\""}


def encode(dtype, values):
    if dtype == "BF16":
        # values are exact in bf16, so dropping the low half of the f32 bits is exact (no rounding needed)
        return (np.array(values, dtype="<f4").view("<u4") >> 16).astype("<u2").tobytes()
    return np.array(values, dtype=NUMPY[dtype]).tobytes()


def decode(dtype, raw):
    arr = np.frombuffer(raw, dtype=NUMPY[dtype])
    if dtype == "BF16":
        arr = (arr.astype("<u4") << 16).view("<f4")
    return arr


def write(path, unaligned):
    tensors = expected_tensors()
    header = {"__metadata__": EXPECTED_METADATA}
    chunks = []
    offset = 0
    # Aligned: largest item size first, as the reference writer does. Unaligned: the dict order above, which puts
    # 14 bytes of f16 first so every later tensor is misaligned; the header is left unpadded too.
    names = list(tensors) if unaligned else sorted(tensors, key=lambda n: -ITEMSIZE[tensors[n][0]])
    for name in names:
        dtype, shape, values = tensors[name]
        raw = encode(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, ensure_ascii=False).encode("utf-8")
    if not unaligned:
        text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("header length %d beyond file size %d" % (n, len(data)))
    text = data[8:8 + n]
    header = json.loads(text.decode("utf-8"))
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    pos = 0
    for b, e, k in spans:
        if b != pos:
            raise ValueError("tensor %s starts at %d, expected %d" % (k, b, pos))
        pos = e
    if pos != len(buf):
        raise ValueError("tensors cover %d bytes of a %d-byte buffer" % (pos, len(buf)))
    out = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        if e - b != int(np.prod(v["shape"], dtype=np.int64)) * ITEMSIZE[v["dtype"]]:
            raise ValueError("tensor %s: offsets do not match dtype x shape" % k)
        out[k] = (v["dtype"], v["shape"], decode(v["dtype"], buf[b:e]), b)
    return n, text, meta, out


def check(path):
    n, text, meta, got = read(path)
    problems = []
    # Layout rules of the reference writer that xfmr promises to follow.
    if n % 8 != 0:
        problems.append("header length %d is not a multiple of 8" % n)
    if text.rstrip(b" ") != text.rstrip():
        problems.append("header padding is not spaces")
    if meta != EXPECTED_METADATA:
        problems.append("metadata %r != %r" % (meta, EXPECTED_METADATA))
    exp = expected_tensors()
    if set(got) != set(exp):
        problems.append("names %s != %s" % (sorted(got), sorted(exp)))
    for name, (dtype, shape, values) in exp.items():
        if name not in got:
            continue
        gdtype, gshape, garr, begin = got[name]
        if begin % ITEMSIZE[gdtype] != 0:
            problems.append("%s: offset %d not aligned to %d" % (name, begin, ITEMSIZE[gdtype]))
        if gdtype != dtype or list(gshape) != shape:
            problems.append("%s: %s %s != %s %s" % (name, gdtype, gshape, dtype, shape))
            continue
        want = np.array(values, dtype="<f4" if dtype == "BF16" else NUMPY[dtype])
        if garr.tobytes() != want.tobytes():  # bitwise equality
            problems.append("%s: values %s != %s" % (name, garr.tolist(), want.tolist()))
    if problems:
        print("\n".join(problems))
        return 1
    print("OK")
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "write":
        write(argv[2], "--unaligned" in argv[3:])
        return 0
    if len(argv) == 3 and argv[1] == "check":
        return check(argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
