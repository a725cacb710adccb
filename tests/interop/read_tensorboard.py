#!/usr/bin/env python3
"""TensorBoard event files written by torchtune_cpp's TensorBoardLogger, read back by
TensorBoard itself (run by tests/unit/metric_logging_test.cpp).

usage: read_tensorboard.py <dir> [--expect expected.json]

For every events.out.tfevents.* file under <dir>:
  - the TFRecord framing and both masked CRC-32Cs of every record are checked;
  - the first event is file_version "brain.Event:2";
  - every record's bytes equal Python protobuf's serialization of the parsed Event, and each
    scalar event equals what torch.utils.tensorboard's SummaryWriter writes for torchtune
    (add_scalar(..., new_style=True)) with the same wall time;
  - TensorBoard's EventAccumulator loads the folder; each tag carries the "scalars" plugin.
Prints {"tags": {tag: [[step, value], ...]}, "files": [...]} as JSON. With --expect, the
tags, steps and values (float32) must equal the file's "tags" exactly; exit 1 otherwise.
"""
import json
import math
import re
import socket
import struct
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.util import tensor_util
from torch.utils.tensorboard.summary import scalar

NAME = re.compile(r"events\.out\.tfevents\.\d{10}\.(?P<host>.+)\.\d+\.\d+$")


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def records(path):
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        if len(data) - pos < 12:
            fail(f"{path}: truncated record header at byte {pos}")
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if header_crc != masked_crc32c(header):
            fail(f"{path}: bad length CRC at byte {pos}")
        body = data[pos + 12:pos + 12 + length]
        if len(body) != length or len(data) < pos + 16 + length:
            fail(f"{path}: truncated record at byte {pos}")
        (body_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if body_crc != masked_crc32c(body):
            fail(f"{path}: bad data CRC at byte {pos}")
        yield body
        pos += 16 + length


def check_file(path):
    match = NAME.search(path.name)
    if not match:
        fail(f"{path.name}: not named events.out.tfevents.<10-digit time>.<host>.<pid>.<n>")
    if match["host"] != socket.gethostname():
        fail(f"{path.name}: host {match['host']!r}, expected {socket.gethostname()!r}")
    bodies = list(records(path))
    if not bodies:
        fail(f"{path}: no records")
    for i, body in enumerate(bodies):
        event = event_pb2.Event.FromString(body)
        if event.SerializeToString() != body:
            fail(f"{path} record {i}: bytes differ from protobuf's serialization of {event}")
        if i == 0:
            if event.file_version != "brain.Event:2" or event.wall_time <= 0:
                fail(f"{path}: first event is not file_version brain.Event:2: {event}")
            continue
        if len(event.summary.value) != 1:
            fail(f"{path} record {i}: expected one summary value: {event}")
        value = event.summary.value[0]
        got = tensor_util.make_ndarray(value.tensor).item()
        torch_event = event_pb2.Event(summary=scalar(value.tag, got, new_style=True),
                                      wall_time=event.wall_time, step=event.step)
        if torch_event.SerializeToString() != body:
            fail(f"{path} record {i}: differs from SummaryWriter's bytes\n ours: {event}\n torch: {torch_event}")


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def main():
    root = Path(sys.argv[1])
    files = sorted(p for p in root.rglob("*") if "tfevents" in p.name)
    if not files:
        fail(f"no event files under {root}")
    for path in files:
        check_file(path)
    tags = {}
    for folder in sorted({p.parent for p in files}):
        acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
        acc.Reload()
        for tag in acc.Tags()["tensors"]:
            plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
            if plugin != "scalars":
                fail(f"tag {tag!r}: plugin {plugin!r}, expected 'scalars'")
            tags.setdefault(tag, []).extend(
                [e.step, tensor_util.make_ndarray(e.tensor_proto).item()] for e in acc.Tensors(tag))
    print(json.dumps({"tags": tags, "files": [str(p.relative_to(root)) for p in files]}))
    if len(sys.argv) > 3 and sys.argv[2] == "--expect":
        want = json.loads(Path(sys.argv[3]).read_text())["tags"]
        if sorted(want) != sorted(tags):
            fail(f"tags {sorted(tags)}, expected {sorted(want)}")
        for tag, points in want.items():
            got = tags[tag]
            if len(got) != len(points) or any(
                    gs != ws or not same(gv, wv) for (gs, gv), (ws, wv) in zip(got, points)):
                fail(f"tag {tag!r}: read {got}, expected {points}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
