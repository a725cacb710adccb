"""The `dataloader` entry of a recipe_state.pt written by torchtune_cpp, loaded by torchdata's
StatefulDataLoader as a torchtune that restores it builds the loader (run by
tests/recipe/recipe_state_test.cpp).

usage: check_dataloader_state.py <recipe_state.pt> <expected.json>
  expected.json: {"size": N, "batch_size": b, "shuffle": true, "world_size": W,
                  "epoch": E, "ranks": [[[i, ...], ...] per rank]}
  "ranks"[r] lists the micro-batches (sample indices) that our resumed run trains on next on
  rank r, to the end of epoch E (0-based).

Checks:
  - the file loads with torch.load(weights_only=True) and epochs_run is E;
  - the entry equals, key for key and value for value, StatefulDataLoader.state_dict() of a
    loader that has yielded the same number of batches of epoch E (num_workers=0, so the
    entry's own count is used; the layout must be torchdata's own);
  - on every rank r: StatefulDataLoader(range(N), batch_size=b, drop_last=True,
    sampler=StatefulDistributedSampler(num_replicas=W, rank=r, shuffle, seed=0)) with
    sampler.set_epoch(epochs_run) and load_state_dict(entry) yields exactly ranks[r], and its
    sampler is at epoch E.
Prints "ok" and exits 0, or prints what differs and exits 1.
"""
import json
import sys

import torch
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import StatefulDistributedSampler


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def loader(size, batch_size, shuffle, world_size, rank):
    """torchtune 0.6's _setup_data, on a dataset of sample indices."""
    sampler = StatefulDistributedSampler(range(size), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=0)
    return sampler, StatefulDataLoader(range(size), batch_size=batch_size, sampler=sampler, drop_last=True)


def main():
    path, expected_path = sys.argv[1:3]
    want = json.load(open(expected_path))
    size, batch_size, shuffle, world_size, epoch = (want[k] for k in
                                                    ("size", "batch_size", "shuffle", "world_size", "epoch"))
    state = torch.load(path, weights_only=True)
    if state["epochs_run"] != epoch:
        fail(f"epochs_run {state['epochs_run']}, expected {epoch}")
    ours = state["dataloader"]
    if not isinstance(ours, dict) or not isinstance(ours.get("_num_yielded"), int):
        fail(f"the dataloader entry is not a StatefulDataLoader state: {ours!r}")

    # torchdata's own state after as many batches of the same epoch (rank 0 writes it).
    sampler, reference = loader(size, batch_size, shuffle, world_size, 0)
    sampler.set_epoch(epoch)
    it = iter(reference)
    for _ in range(ours["_num_yielded"]):
        next(it)
    theirs = reference.state_dict()
    if ours != theirs:
        fail(f"the dataloader entry differs from StatefulDataLoader.state_dict()\n ours:      {ours}\n"
             f" torchdata: {theirs}")

    for rank, batches in enumerate(want["ranks"]):
        sampler, resumed = loader(size, batch_size, shuffle, world_size, rank)
        sampler.set_epoch(state["epochs_run"])  # torchtune: dataloader.sampler.set_epoch(curr_epoch)
        resumed.load_state_dict(ours)
        got = [b.tolist() for b in resumed]
        if sampler.epoch != epoch:
            fail(f"rank {rank}: sampler epoch {sampler.epoch}, expected {epoch}")
        if got != batches:
            fail(f"rank {rank}: StatefulDataLoader yields\n {got}\nour resumed run trains on\n {batches}")
        print(f"rank {rank}: epoch {epoch}, {ours['_num_yielded']} batches done, next {got[:1]}, "
              f"{len(got)} to go")
    print("ok")


if __name__ == "__main__":
    main()
