#!/usr/bin/env python3
"""Writes the seed corpora of the SDK's fuzz targets (Fuzz/Corpus/<target>/).

Python's own pickler writes the pickles, so the seeds hold the opcodes real
files hold (protocols 0 to 5: FRAME, MEMOIZE, STACK_GLOBAL, ...). torch is not
needed: small stand-in classes pickle exactly as torch's tensors and storages
do (`torch._utils._rebuild_tensor_v2` with persistent ids for storages).
Also copies the small `torch.save` fixtures (views*.pth, malicious.pth) made
by real torch. Every seed stays small (under 8 KiB).

    python3 Fuzz/make-seeds.py [SHARED]    # SHARED: the fixtures' parent folder
"""

import argparse
import collections
import io
import json
import os
import pickle
import shutil
import struct
import sys
import types
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def fake_module(name):
    module = types.ModuleType(name)
    sys.modules[name] = module
    return module


torch = fake_module("torch")
torch_utils = fake_module("torch._utils")
torch._utils = torch_utils


def _rebuild_tensor_v2(*args):
    raise RuntimeError("never called")


def _rebuild_parameter(*args):
    raise RuntimeError("never called")


for function in (_rebuild_tensor_v2, _rebuild_parameter):
    function.__module__ = "torch._utils"
    function.__qualname__ = function.__name__
    setattr(torch_utils, function.__name__, function)

# (storage class, struct format of one element)
STORAGE_TYPES = {
    "FloatStorage": "f", "DoubleStorage": "d", "HalfStorage": "e", "BFloat16Storage": "H",
    "LongStorage": "q", "IntStorage": "i", "ShortStorage": "h", "CharStorage": "b",
    "ByteStorage": "B", "BoolStorage": "?",
}
for name in STORAGE_TYPES:
    cls = type(name, (), {"__module__": "torch"})
    setattr(torch, name, cls)


class Storage:
    def __init__(self, type_name, key, values):
        self.type = getattr(torch, type_name)
        self.key = key
        self.values = values
        self.data = struct.pack("<%d%s" % (len(values), STORAGE_TYPES[type_name]), *values)


class Tensor:
    def __init__(self, storage, offset, size, stride, parameter=False):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.parameter = parameter

    def __reduce_ex__(self, protocol):
        plain = (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
                                      collections.OrderedDict()))
        if self.parameter:
            return (_rebuild_parameter, (Tensor(self.storage, self.offset, self.size, self.stride), True,
                                         collections.OrderedDict()))
        return plain


class TorchPickler(pickle.Pickler):
    def __init__(self, file, protocol, legacy=False):
        super().__init__(file, protocol=protocol)
        self.legacy = legacy
        self.storages = collections.OrderedDict()

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.storages[obj.key] = obj
            base = ("storage", obj.type, obj.key, "cpu", len(obj.values))
            return base + (None,) if self.legacy else base
        return None


def torch_pickle(obj, protocol=2, legacy=False):
    out = io.BytesIO()
    pickler = TorchPickler(out, protocol, legacy)
    pickler.dump(obj)
    return out.getvalue(), pickler.storages


def torch_zip(obj, prefix="archive", protocol=2, byteorder="little", force_zip64=False):
    data, storages = torch_pickle(obj, protocol)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        def add(name, payload):
            with archive.open(name, "w", force_zip64=force_zip64) as entry:
                entry.write(payload)
        add(prefix + "/data.pkl", data)
        add(prefix + "/byteorder", byteorder.encode())
        for key, storage in storages.items():
            add(prefix + "/data/" + key, storage.data)
        add(prefix + "/version", b"3\n")
    return out.getvalue()


def torch_legacy(obj):
    out = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, out, protocol=2)
    pickle.dump(1001, out, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, out, protocol=2)
    pickler = TorchPickler(out, 2, legacy=True)
    pickler.dump(obj)
    keys = list(pickler.storages)
    pickle.dump(keys, out, protocol=2)
    for key in keys:
        storage = pickler.storages[key]
        out.write(struct.pack("<q", len(storage.values)))
        out.write(storage.data)
    return out.getvalue()


def state_dict():
    weights = Storage("FloatStorage", "0", [float(i) / 4 for i in range(24)])
    index = Storage("LongStorage", "1", list(range(9)))
    half = Storage("HalfStorage", "2", [0.5, -1.0, 2.0])
    flags = Storage("BoolStorage", "3", [True, False])
    small = Storage("CharStorage", "4", [-3, 7])
    sd = collections.OrderedDict()
    sd["module.proj.weight"] = Tensor(weights, 0, [4, 6], [6, 1], parameter=True)
    sd["module.proj.weight_t"] = Tensor(weights, 0, [6, 4], [1, 6])
    sd["module.slice"] = Tensor(weights, 7, [2, 3], [6, 1])
    sd["module.expanded"] = Tensor(weights, 3, [3, 5], [1, 0])
    sd["module.index"] = Tensor(index, 0, [3, 3], [3, 1])
    sd["module.half"] = Tensor(half, 0, [3], [1])
    sd["module.flag"] = Tensor(flags, 0, [2], [1])
    sd["module.scalar"] = Tensor(weights, 5, [], [])
    sd["module.empty"] = Tensor(weights, 0, [0, 4], [4, 1])
    sd["module.int8"] = Tensor(small, 0, [2], [1])
    sd._metadata = {"": {"version": 1}}
    return sd


def checkpoint():
    namespace = argparse.Namespace(batch_size=128, model="mixmim_base", blr=1.5e-4, norm_pix_loss=True)
    return {"model": state_dict(), "epoch": 3, "args": namespace, "scaler": {"scale": 65536.0},
            "optimizer": {"state": {0: {"step": 10}}, "param_groups": [{"lr": 0.001, "params": [0, 1]}]}}


class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/mixmae-fuzz-pwned",))


def safetensors(tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shared", nargs="?", default=os.path.join(HERE, "..", "..", "shared"))
    args = parser.parse_args()
    seeds = {name: {} for name in ("pickle", "pytorch", "safetensors")}

    plain = {"int": [0, 1, -1, 255, 65535, 2 ** 31, -(2 ** 63), 2 ** 80], "float": 1.5, "str": "héllo",
             "bytes": b"\x00\xff", "bytearray": bytearray(b"ab"), "tuple": (1, (2, (3,))), "set": {1, 2},
             "frozenset": frozenset({"a"}), "none": None, "bools": [True, False],
             "ordered": collections.OrderedDict(a=1), "namespace": argparse.Namespace(lr=0.5)}
    for protocol in range(0, 6):
        seeds["pickle"]["plain-p%d.pkl" % protocol] = pickle.dumps(plain, protocol=protocol)
    for protocol in range(2, 6):
        seeds["pickle"]["state-dict-p%d.pkl" % protocol] = torch_pickle(state_dict(), protocol)[0]
    seeds["pickle"]["evil-os-system.pkl"] = pickle.dumps({"x": Evil()}, protocol=2)
    seeds["pickle"]["shared-memo.pkl"] = pickle.dumps([[1, 2]] * 3 + [{"k": (1, 2)}] * 2, protocol=4)

    seeds["pytorch"]["state-dict.pth"] = torch_zip({"state_dict": state_dict()})
    seeds["pytorch"]["checkpoint.pth"] = torch_zip(checkpoint())
    seeds["pytorch"]["protocol4.pth"] = torch_zip({"model": state_dict()}, prefix="p4", protocol=4)
    seeds["pytorch"]["zip64.pth"] = torch_zip(state_dict(), force_zip64=True)
    seeds["pytorch"]["legacy.pth"] = torch_legacy({"state_dict": state_dict()})
    seeds["pytorch"]["two-dicts.pth"] = torch_zip({"student": state_dict(), "teacher": state_dict()})
    seeds["pytorch"]["evil.pth"] = torch_zip({"model": Evil()})

    seeds["safetensors"]["dtypes.safetensors"] = safetensors({
        "f32": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
        "f16": ("F16", [2], struct.pack("<2e", 0.5, -2)),
        "i64": ("I64", [3], struct.pack("<3q", 0, -1, 7)),
        "bool": ("BOOL", [2], b"\x00\x01"),
        "empty": ("F32", [0, 3], b""),
        "scalar": ("F64", [], struct.pack("<d", 2.5)),
        "u8": ("U8", [1], b"\x09"),
    }, metadata={"step": "12"})
    seeds["safetensors"]["empty.safetensors"] = safetensors({})

    for name in ("views.pth", "views_legacy.pth", "malicious.pth"):
        source = os.path.join(args.shared, "fixtures", "pth", name)
        with open(source, "rb") as f:
            seeds["pytorch"]["fixture-" + name] = f.read()
    with open(os.path.join(args.shared, "fixtures", "pth", "views.expected.safetensors"), "rb") as f:
        seeds["safetensors"]["fixture-views.expected.safetensors"] = f.read()
    with zipfile.ZipFile(os.path.join(args.shared, "fixtures", "pth", "views.pth")) as archive:
        seeds["pickle"]["fixture-views-data.pkl"] = archive.read("views/data.pkl")

    for target, files in seeds.items():
        folder = os.path.join(HERE, "Corpus", target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, data in sorted(files.items()):
            assert len(data) < 8192, (name, len(data))
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        print("%s: %d seeds, %d bytes" % (target, len(files), sum(len(d) for d in files.values())))


if __name__ == "__main__":
    main()
