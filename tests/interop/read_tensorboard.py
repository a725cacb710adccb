#!/usr/bin/env python3
"""TensorBoard event files written by torchtune_cpp's TensorBoardLogger, read back by
TensorBoard itself and compared with what torch.utils.tensorboard writes for the same values
(run by tests/unit/metric_logging_test.cpp).

usage: read_tensorboard.py <dir> [--expect expected.json]

For every events.out.tfevents.* file under <dir>:
  - the TFRecord framing and both masked CRC-32Cs of every record are checked;
  - the first event is file_version "brain.Event:2";
  - every record's bytes equal Python protobuf's serialization of the parsed Event, and each
    scalar event's bytes equal torch.utils.tensorboard's (SummaryWriter.add_scalar: a
    Summary.Value with simple_value) with the same wall time and step.
Then TensorBoard's EventAccumulator loads each run folder: Tags()["scalars"] must list every
tag and Scalars(tag) give the steps and values. In the same run, torch.utils.tensorboard's
SummaryWriter.add_scalar writes the same (tag, value, step) sequence to a temporary folder,
and EventAccumulator must read exactly the same tags, steps and values from it.
Prints {"tags": {tag: [[step, value], ...]}, "files": [...]} as JSON. With --expect, the
tags, steps and values (float32) must equal the file's "tags" exactly; exit 1 otherwise.
"""
import json
import math
import re
import socket
import struct
import sys
import tempfile
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from torch.utils.tensorboard import SummaryWriter
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
    """The file's scalar events as (tag, value, step), in file order."""
    match = NAME.search(path.name)
    if not match:
        fail(f"{path.name}: not named events.out.tfevents.<10-digit time>.<host>.<pid>.<n>")
    if match["host"] != socket.gethostname():
        fail(f"{path.name}: host {match['host']!r}, expected {socket.gethostname()!r}")
    bodies = list(records(path))
    if not bodies:
        fail(f"{path}: no records")
    logged = []
    for i, body in enumerate(bodies):
        event = event_pb2.Event.FromString(body)
        if event.SerializeToString() != body:
            fail(f"{path} record {i}: bytes differ from protobuf's serialization of {event}")
        if i == 0:
            if event.file_version != "brain.Event:2" or event.wall_time <= 0:
                fail(f"{path}: first event is not file_version brain.Event:2: {event}")
            continue
        if len(event.summary.value) != 1 or event.summary.value[0].WhichOneof("value") != "simple_value":
            fail(f"{path} record {i}: expected one summary value with simple_value: {event}")
        value = event.summary.value[0]
        torch_event = event_pb2.Event(summary=scalar(value.tag, value.simple_value),
                                      wall_time=event.wall_time, step=event.step)
        if torch_event.SerializeToString() != body:
            fail(f"{path} record {i}: differs from SummaryWriter's bytes\n ours: {event}\n torch: {torch_event}")
        logged.append((value.tag, value.simple_value, event.step))
    return logged


def read_scalars(folder):
    """EventAccumulator's view of a run folder: {tag: [[step, value], ...]}."""
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    if tags["tensors"]:
        fail(f"{folder}: tensor summaries {tags['tensors']}; scalars must be simple values")
    return {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in tags["scalars"]}


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


def same_points(got, want):
    return len(got) == len(want) and all(gs == ws and same(gv, wv) for (gs, gv), (ws, wv) in zip(got, want))


def main():
    root = Path(sys.argv[1])
    files = sorted(p for p in root.rglob("*") if "tfevents" in p.name)
    if not files:
        fail(f"no event files under {root}")
    tags = {}
    for folder in sorted({p.parent for p in files}):
        logged = [entry for path in files if path.parent == folder for entry in check_file(path)]
        ours = read_scalars(folder)
        if sorted(ours) != sorted({tag for tag, _, _ in logged}):
            fail(f"{folder}: EventAccumulator lists scalars {sorted(ours)}, the file holds "
                 f"{sorted({tag for tag, _, _ in logged})}")
        # The same values through torch.utils.tensorboard, read back the same way.
        with tempfile.TemporaryDirectory() as tmp:
            writer = SummaryWriter(tmp)
            for tag, value, step in logged:
                writer.add_scalar(tag, value, global_step=step)
            writer.close()
            theirs = read_scalars(tmp)
        if sorted(ours) != sorted(theirs) or any(not same_points(ours[t], theirs[t]) for t in ours):
            fail(f"{folder}: EventAccumulator reads\n ours:  {ours}\n torch: {theirs}")
        for tag, points in ours.items():
            tags.setdefault(tag, []).extend(points)
    print(json.dumps({"tags": tags, "files": [str(p.relative_to(root)) for p in files]}))
    if len(sys.argv) > 3 and sys.argv[2] == "--expect":
        want = json.loads(Path(sys.argv[3]).read_text())["tags"]
        if sorted(want) != sorted(tags):
            fail(f"tags {sorted(tags)}, expected {sorted(want)}")
        for tag, points in want.items():
            if not same_points(tags[tag], points):
                fail(f"tag {tag!r}: read {tags[tag]}, expected {points}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
