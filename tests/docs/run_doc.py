"""Runs every command and config of a documentation page, so the docs cannot drift from
what works. Fenced blocks, in page order:

  ```sh      run with bash -euo pipefail from the repository root, `tune` = build/tune
  ```python  run with this Python from the repository root
  ```yaml    a `checkpointer:` section: spliced into configs/llama2/tiny_full.yaml in place
             of its own, checked with `tune validate`, then trained for two steps; every
             .bin/.pt/.pth it writes must load with torch.load(weights_only=True).
             A block whose first line is `# from configs/<name>.yaml` must instead be a
             verbatim excerpt of that shipped config, which `tune validate` must accept.
  ```text    output shown to the reader: right after a sh block, every word of it must
             appear in that block's output

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
    res = subprocess.run(cmd, cwd=source, env=env, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        sys.exit(f"FAILED: {cmd}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}")
    return res.stdout + res.stderr


def splice(section):
    """tiny_full.yaml with its checkpointer section replaced by `section`."""
    text = open(os.path.join(source, "configs/llama2/tiny_full.yaml")).read()
    start = text.index("\ncheckpointer:\n") + 1
    end = re.search(r"^\S", text[start + len("checkpointer:\n"):], flags=re.M).start() + start + len("checkpointer:\n")
    return text[:start] + section + text[end:]


counts = {}
last_sh_output = None
with tempfile.TemporaryDirectory() as tmp:
    for i, (lang, body) in enumerate(blocks):
        counts[lang] = counts.get(lang, 0) + 1
        previous, last_sh_output = last_sh_output, None
        if lang == "sh":
            out = last_sh_output = run(["bash", "-euo", "pipefail", "-c", body])
        elif lang == "python":
            out = run([sys.executable, "-c", body])
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
            if previous is None:
                continue
            missing = [w for w in body.split() if w not in previous]
            assert not missing, f"block {i}: {missing} not in the output of the command before it:\n{previous}"
        else:
            sys.exit(f"block {i}: unknown block language '{lang}'")
        print(f"block {i} ({lang}) ok", flush=True)
print("ran", counts)
