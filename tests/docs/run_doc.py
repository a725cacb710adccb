"""Runs every command and config of a documentation page, so the docs cannot drift from
what works. Fenced blocks, in page order:

  ```sh      run with bash -euo pipefail from the repository root, `tune` = build/tune
  ```python  run with this Python from the repository root
  ```yaml    a `checkpointer:` section: spliced into configs/llama2/tiny_full.yaml in place
             of its own, checked with `tune validate`, then trained for two steps; every
             .bin/.pt/.pth it writes must load with torch.load(weights_only=True).
             A block whose first line is `# from configs/<name>.yaml` must instead be a
             verbatim excerpt of that shipped config, which `tune validate` must accept.
  ```text    output shown to the reader; it must come right after a sh or python block and
             is matched against that block's output (stdout and stderr merged, in the order
             a terminal shows them) by the rule below.

How a text block matches: its lines must appear in the output as whole lines, in the same
order and contiguous (no output line between two block lines), trailing spaces aside. Two
placeholders stand for what legitimately varies from run to run (timings, timestamps,
process ids, long listings):
  - `...` inside a line matches any text within that one output line (possibly none):
    `Writing logs to /tmp/out/logs/log_....txt`;
  - a line that is exactly `...` matches any number of whole output lines (possibly none).
Everything else is literal: a block showing `micro-batch 4` fails when the program prints
`micro-batch 0`.

usage: run_doc.py <page.md> <build dir> <source dir>
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

import torch

page, build, source = sys.argv[1:4]
env = dict(os.environ, PATH=os.path.abspath(build) + os.pathsep + os.environ["PATH"])
blocks = re.findall(r"^```(\w+)\n(.*?)^```", open(page).read(), flags=re.M | re.S)
assert blocks, f"no fenced blocks in {page}"


def run(cmd, **kw):
    """The command's output, stderr merged into stdout as on a terminal; exits on failure."""
    res = subprocess.run(cmd, cwd=source, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, **kw)
    if res.returncode != 0:
        sys.exit(f"FAILED: {cmd}\n--- output\n{res.stdout}")
    return res.stdout


ANY_LINES = object()  # a block line that is exactly `...`


def line_pattern(line):
    """A block line as a regex over one output line: `...` is any text, the rest literal."""
    if line.strip() == "...":
        return ANY_LINES
    return re.compile("".join(".*" if part == "..." else re.escape(part)
                              for part in re.split(r"(\.\.\.)", line.rstrip())))


def matches_at(patterns, lines, start):
    """Whether `patterns` match `lines` from index `start` on, one line per pattern,
    ANY_LINES taking zero or more lines."""
    if not patterns:
        return True
    first, rest = patterns[0], patterns[1:]
    if first is ANY_LINES:
        return any(matches_at(rest, lines, k) for k in range(start, len(lines) + 1))
    return start < len(lines) and first.fullmatch(lines[start].rstrip()) is not None and \
        matches_at(rest, lines, start + 1)


def text_matches(block, output):
    patterns = [line_pattern(line) for line in block.splitlines()]
    assert any(p is not ANY_LINES for p in patterns), f"a text block needs a line to match:\n{block}"
    lines = output.splitlines()
    return any(matches_at(patterns, lines, start) for start in range(len(lines) + 1))


# The rule itself, on known cases, before any page is trusted to it.
_OUT = "Model has 12 parameters\nResuming at epoch 2, micro-batch 0\n2|5|Loss: 5.9 \n2|6|Loss: 5.7\nINFO: saved\n"
for _block, _want in [("Resuming at epoch 2, micro-batch 0", True),
                      ("Resuming at epoch 2, micro-batch 4", False),     # a different value
                      ("micro-batch 0", False),                          # part of a line
                      ("epoch 2, micro-batch 0\nModel has 12 parameters", False),  # out of order
                      ("Model has 12 parameters\n2|5|Loss: 5.9", False),  # not contiguous
                      ("Model has 12 parameters\n...\n2|5|Loss: 5.9", True),
                      ("Model has ... parameters\nResuming at epoch ..., micro-batch 0", True),
                      ("2|5|Loss: 5.9\n2|6|Loss: 5.7\nINFO: saved\n...", True),
                      ("Model has 12\n...", False)]:
    assert text_matches(_block, _OUT) == _want, f"run_doc.py's matching rule is broken on {_block!r}"


def splice(section):
    """tiny_full.yaml with its checkpointer section replaced by `section`."""
    text = open(os.path.join(source, "configs/llama2/tiny_full.yaml")).read()
    start = text.index("\ncheckpointer:\n") + 1
    end = re.search(r"^\S", text[start + len("checkpointer:\n"):], flags=re.M).start() + start + len("checkpointer:\n")
    return text[:start] + section + text[end:]


counts = {}
last_output = None
with tempfile.TemporaryDirectory() as tmp:
    for i, (lang, body) in enumerate(blocks):
        counts[lang] = counts.get(lang, 0) + 1
        previous, last_output = last_output, None
        if lang == "sh":
            out = last_output = run(["bash", "-euo", "pipefail", "-c", body])
        elif lang == "python":
            out = last_output = run([sys.executable, "-c", body])
        elif lang == "yaml":
            first = body.splitlines()[0]
            m = re.match(r"# from (configs/\S+\.yaml)", first)
            if m:
                excerpt = body.split("\n", 1)[1]
                assert excerpt in open(os.path.join(source, m.group(1))).read(), \
                    f"block {i} is not a verbatim excerpt of {m.group(1)}"
                name = m.group(1)[len("configs/"):-len(".yaml")]
                out = run(["tune", "validate", name])
                assert "Config is well-formed!" in out, out
            else:
                assert first == "checkpointer:", f"block {i}: a yaml block must be a checkpointer section"
                config = os.path.join(tmp, f"block{i}.yaml")
                with open(config, "w") as f:
                    f.write(splice(body))
                out = run(["tune", "validate", config])
                assert "Config is well-formed!" in out, out
                output_dir = os.path.join(tmp, f"out{i}")
                out = run(["tune", "run", "full_finetune_single_device", "--config", config,
                           f"output_dir={output_dir}", "epochs=1", "max_steps_per_epoch=2"])
                for f in glob.glob(os.path.join(output_dir, "**", "*"), recursive=True):
                    if f.endswith((".bin", ".pt", ".pth")):
                        torch.load(f, weights_only=True)
        elif lang == "text":
            assert previous is not None, f"block {i}: a text block must follow a sh or python block"
            assert text_matches(body, previous), \
                f"block {i}: these lines are not, whole, in order and contiguous, in the output of the " \
                f"command before it (see the rule at the top of {__file__}):\n{body}\n--- output\n{previous}"
        else:
            sys.exit(f"block {i}: unknown block language '{lang}'")
        print(f"block {i} ({lang}) ok", flush=True)
print("ran", counts)
