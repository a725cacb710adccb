#!/usr/bin/env python3
"""Generate golden fixtures for config parsing, CLI overrides and interpolation.

Runs torchtune v0.6.1's own code path (the one behind ``@config.parse``):

    parser = TuneRecipeArgumentParser()
    yaml_args, cli_args = parser.parse_known_args(["--config", path, *overrides])
    conf = _merge_yaml_and_cli_args(yaml_args, cli_args)
    OmegaConf.to_container(conf, resolve=True)

and writes every result (or the exception torchtune/OmegaConf raised) to
tests/assets/golden/config/cases.json.

Usage (from anywhere; paths in the output are relative to the repo root):

    PY=$(scripts/torchtune_env.sh | tail -n 1)
    "$PY" tests/scripts/make_config_fixtures.py

Each case has "name", "config", "overrides" and either "resolved" (the
fully resolved config, key order preserved) or "error" (str() of the
exception), "error_type" (its class name) and "error_stage" ("parse" for
TuneRecipeArgumentParser.parse_known_args, "merge" for
_merge_yaml_and_cli_args, "resolve" for OmegaConf.to_container).
Variables listed in "env_unset" at the top level are removed from the
environment for every case; a case's "env" sets variables for that case only.
OmegaConf.load reports absolute paths: in error messages the absolute path of
the repo root (the working directory while generating) is written as "{cwd}".
"""

import json
import os
import platform
import sys
from pathlib import Path

import omegaconf
import torchtune
from omegaconf import OmegaConf
from torchtune.config._parse import TuneRecipeArgumentParser
from torchtune.config._utils import _merge_yaml_and_cli_args

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_PATH = "tests/assets/golden/config/cases.json"
ENV_VARS = ["TTCPP_TEST_VAR"]

BASE = "tests/assets/configs/overrides_base.yaml"
TT = "tests/assets/configs/torchtune_v0.6.1/llama2"
FULL_7B = f"{TT}/7B_full.yaml"
FULL_7B_LOW_MEM = f"{TT}/7B_full_low_memory.yaml"
FULL_13B = f"{TT}/13B_full.yaml"

# (name, config, overrides, env)
CASES = [
    # --- plain loading and simple overrides -------------------------------
    ("base_plain", BASE, [], None),
    ("base_output_dir_and_lr", BASE, ["output_dir=/tmp/x", "optimizer.lr=3e-4"], None),
    (
        "nested_override",
        BASE,
        [
            "checkpointer.model_type=LLAMA3",
            "profiler.wait_steps=10",
            "sharded_checkpointer.checkpoint_files.filename_format=shard-{}-of-{}.bin",
        ],
        None,
    ),
    (
        "new_keys",
        BASE,
        ["new_top=1", "optimizer.momentum=0.9", "brand.new.deep.key=value"],
        None,
    ),
    ("repeated_key_last_wins", BASE, ["seed=1", "seed=2"], None),
    ("flow_mapping_then_dotted", BASE, ["extra={x: 1, y: [a, b]}", "extra.z=3"], None),
    # --- lists -----------------------------------------------------------
    (
        "list_override_strings",
        BASE,
        ["checkpointer.checkpoint_files=[a.bin,b.bin]"],
        None,
    ),
    (
        "list_override_ints_nested",
        BASE,
        ["optimizer.betas=[1,2]", "new_list=[1, [2, 3], {a: b}, 4.5, null, true, x y]"],
        None,
    ),
    ("list_replaced_by_scalar", BASE, ["checkpointer.checkpoint_files=one.bin"], None),
    ("list_index_override", BASE, ["checkpointer.checkpoint_files.0=x.bin"], None),
    ("list_of_dicts_index_override", BASE, ["data_mix.1.weight=0.25"], None),
    # --- type changes ----------------------------------------------------
    ("scalar_replaced_by_dict", BASE, ["batch_size.x=1"], None),
    ("dict_replaced_by_scalar", BASE, ["lonely=5"], None),
    # --- deletion with ~ -------------------------------------------------
    ("delete_plain_keys", BASE, ["~seed", "~clip_grad_norm"], None),
    ("delete_nested_parent_emptied", BASE, ["~lonely.inner.leaf"], None),
    (
        "delete_nested_leaves",
        BASE,
        ["~dataset.packed", "~profiler.cpu", "~scalars.hex"],
        None,
    ),
    ("delete_with_value_suffix", BASE, ["~seed=1"], None),
    ("delete_then_set", BASE, ["~seed", "seed=42"], None),
    ("set_then_delete", BASE, ["seed=42", "~seed"], None),
    ("delete_component_field", BASE, ["~optimizer._component_"], None),
    ("delete_component_node", BASE, ["~optimizer"], None),
    ("delete_missing_key", BASE, ["~does_not_exist"], None),
    ("delete_missing_nested_key", BASE, ["~optimizer.nope"], None),
    ("delete_twice", BASE, ["~seed", "~seed"], None),
    ("delete_list_index", BASE, ["~checkpointer.checkpoint_files.0"], None),
    ("delete_interpolation_target", BASE, ["~output_dir"], None),
    # --- component swap --------------------------------------------------
    (
        "component_swap_optimizer",
        BASE,
        ["optimizer=bitsandbytes.optim.PagedAdamW8bit", "optimizer.lr=1e-5"],
        None,
    ),
    (
        "component_swap_model_and_loss",
        BASE,
        ["model=torchtune.models.llama2.llama2_13b", "loss=torch.nn.CrossEntropyLoss"],
        None,
    ),
    # --- null ------------------------------------------------------------
    (
        "null_values",
        BASE,
        [
            "epochs=None",
            "dtype=null",
            "clip_grad_norm=~",
            "batch_size=",
            "new_none=None",
            "new_null_upper=NULL",
        ],
        None,
    ),
    # --- max_filename !!str hack -----------------------------------------
    (
        "max_filename_leading_zeros",
        BASE,
        ["sharded_checkpointer.checkpoint_files.max_filename=00005"],
        None,
    ),
    (
        "max_filename_none",
        BASE,
        ["sharded_checkpointer.checkpoint_files.max_filename=None"],
        None,
    ),
    (
        "max_filename_substring_key",
        BASE,
        ["checkpointer.max_filename_hint=007", "other_number=007"],
        None,
    ),
    # --- malformed overrides ---------------------------------------------
    ("value_with_equals", BASE, ["dataset.source=a=b"], None),
    ("override_without_equals", BASE, ["seed"], None),
    ("yaml_scan_error", BASE, ["x=@foo"], None),
    ("flag_leftover", BASE, ["--foo", "seed=1"], None),
    ("flag_with_value_leftover", BASE, ["--lr=1"], None),
    ("missing_config_file", "tests/assets/configs/does_not_exist.yaml", [], None),
    # --- interpolation ---------------------------------------------------
    ("output_dir_propagates", BASE, ["output_dir=/new"], None),
    (
        "cli_interpolation",
        BASE,
        [
            "metric_logger.log_dir=${output_dir}/custom",
            "output_dir=/o",
            "run_name=run_${epochs}_${batch_size}",
            "lr_copy=${optimizer.lr}",
        ],
        None,
    ),
    ("cli_interpolation_missing_key", BASE, ["x=${nope}"], None),
    ("env_var_set", BASE, [], {"TTCPP_TEST_VAR": "value"}),
    ("env_var_numeric_stays_string", BASE, [], {"TTCPP_TEST_VAR": "42"}),
    (
        "env_var_cli_no_default_unset",
        BASE,
        ["extra=${oc.env:TTCPP_TEST_VAR}"],
        None,
    ),
    (
        "env_var_cli_null_default_unset",
        BASE,
        ["extra=${oc.env:TTCPP_TEST_VAR,null}"],
        None,
    ),
    # --- scalar typing of override values ---------------------------------
    (
        "booleans",
        BASE,
        [
            "shuffle=False",
            "compile=true",
            "profiler.enabled=True",
            "log_peak_memory_stats=false",
            "new_yes=yes",
            "new_off=Off",
            "new_not_bool=TRUEish",
        ],
        None,
    ),
    (
        "floats",
        BASE,
        [
            "optimizer.lr=1e-5",
            "optimizer.weight_decay=.5",
            "clip_grad_norm=2.0",
            "f_trailing_dot=1.",
            "f_neg_leading_dot=-.5",
            "f_exp_upper=1E3",
            "f_exp_plus=1e+3",
            "f_underscore=1_000.5",
            "f_neg=-2.5e-3",
        ],
        None,
    ),
    (
        "ints",
        BASE,
        [
            "epochs=007",
            "batch_size=08",
            "gradient_accumulation_steps=0x10",
            "max_steps_per_epoch=+5",
            "i_sexagesimal=1:30",
            "i_binary=0b101",
            "i_neg=-3",
            "i_underscore=1_000",
        ],
        None,
    ),
    (
        "strings",
        BASE,
        [
            "dataset.source='hello world'",
            "tokenizer.path=/path with spaces/tok.model",
            'quoted_float="1e-5"',
            "quoted_int='007'",
            "with_comment=foo # bar",
            "url=http://host:1/x",
            "mapping_like=a: b",
            'escaped="a\\tb"',
            "date_like=2024-01-31",
        ],
        None,
    ),
    # --- torchtune's shipped llama2 full-finetune configs ------------------
    ("tt_7B_full_plain", FULL_7B, [], None),
    ("tt_7B_full_output_dir", FULL_7B, ["output_dir=/tmp/out"], None),
    (
        "tt_7B_full_mixed",
        FULL_7B,
        [
            "output_dir=/tmp/out",
            "tokenizer.max_seq_len=512",
            "dataset.packed=True",
            "batch_size=4",
            "dtype=fp32",
            "device=cpu",
            "max_steps_per_epoch=10",
            "~clip_grad_norm",
        ],
        None,
    ),
    ("tt_7B_full_low_memory_plain", FULL_7B_LOW_MEM, [], None),
    (
        "tt_7B_full_low_memory_swap",
        FULL_7B_LOW_MEM,
        [
            "output_dir=/tmp/out",
            "optimizer=bitsandbytes.optim.PagedAdamW8bit",
            "lr_scheduler.num_warmup_steps=10",
            "optimizer_in_bwd=False",
        ],
        None,
    ),
    ("tt_13B_full_plain", FULL_13B, [], None),
    (
        "tt_13B_full_overrides",
        FULL_13B,
        [
            "output_dir=/tmp/out",
            "checkpointer.checkpoint_dir=/ckpt",
            "checkpointer.checkpoint_files=[model-00001-of-00002.safetensors,model-00002-of-00002.safetensors]",
            "seed=1234",
        ],
        None,
    ),
]


def run_case(name, config, overrides, env):
    for var in ENV_VARS:
        os.environ.pop(var, None)
    if env:
        os.environ.update(env)

    case = {"name": name, "config": config, "overrides": list(overrides)}
    if env:
        case["env"] = dict(env)

    stage = "parse"
    try:
        parser = TuneRecipeArgumentParser()
        yaml_args, cli_args = parser.parse_known_args(["--config", config, *overrides])
        stage = "merge"
        conf = _merge_yaml_and_cli_args(yaml_args, cli_args)
        stage = "resolve"
        resolved = OmegaConf.to_container(conf, resolve=True)
    except Exception as e:  # record exactly what torchtune/OmegaConf raised
        case["error"] = str(e).replace(str(REPO_ROOT), "{cwd}")
        case["error_type"] = type(e).__name__
        case["error_stage"] = stage
    else:
        case["resolved"] = resolved
    finally:
        for var in ENV_VARS:
            os.environ.pop(var, None)
    return case


def main():
    os.chdir(REPO_ROOT)
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"

    cases = [run_case(*c) for c in CASES]
    doc = {
        "generated_by": "tests/scripts/make_config_fixtures.py",
        "versions": {
            "torchtune": torchtune.__version__,
            "omegaconf": omegaconf.__version__,
            "python": platform.python_version(),
        },
        "env_unset": ENV_VARS,
        "error_placeholders": {"{cwd}": "absolute path of the working directory"},
        "cases": cases,
    }
    # allow_nan=False: every float must be a valid JSON number.
    text = json.dumps(doc, indent=1, sort_keys=False, allow_nan=False) + "\n"
    out = REPO_ROOT / OUT_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    n_err = sum(1 for c in cases if "error" in c)
    print(
        f"wrote {OUT_PATH}: {len(cases)} cases "
        f"({len(cases) - n_err} resolved, {n_err} errors), {len(text)} bytes",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
