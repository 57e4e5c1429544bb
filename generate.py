"""Write legends and counter-legends (fictional stories of compliance and of the convenient option; see legends/).

    python generate.py --n 5000                         # embedded SmolLM2-135M, 2 authored examples a prompt
    python generate.py --n 5000 --backend openai --base-url http://HOST:8000/v1 --model NAME --api-key-env KEY_VAR
    python generate.py --n 100 --few-shot 0 --out data/legends/zero-shot.jsonl

Output: data/legends/legends.jsonl (the "generated" legends source of train.py). Running again with the same
--out continues to exactly --n kept records. Stats: OUT.stats.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

from dpo.data import DataError
from legends.generate import GenerateConfig, run, stats_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(GenerateConfig):
        choices = ("local", "openai") if f.name == "backend" else None
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default, choices=choices,
                            help=f"(default: {f.default})")
    try:
        cfg = GenerateConfig(**vars(parser.parse_args(argv)))
        stats = run(cfg)
    except (DataError, ValueError) as e:
        sys.exit(f"error: {e}")
    run_ = stats["last_run"]
    print(f"{'interrupted: ' if stats['interrupted'] else ''}{stats['kept']}/{cfg.n} legends kept in {cfg.out} "
          f"(kept ratio {stats['kept_ratio']:.2f} over {stats['attempted']} legends written)")
    print(f"this run: {run_['kept']} kept in {run_['minutes']:.1f} min = {run_['legends_per_minute']:.1f} legends/min, "
          f"kept ratio {run_['kept'] / max(run_['attempted'], 1):.2f}; {run_['new_tokens']} new tokens written "
          f"({run_['new_tokens_per_second']:.0f}/s, {run_['new_tokens'] / max(run_['kept'], 1):.0f} a kept record)")
    if stats["gave_up"]:
        print(f"gave up: {cfg.patience} legends in a row kept no record; see the rejected examples in {stats_path(cfg.out)}")
    for reason, count in stats["rejected"].items():
        print(f"  rejected {reason:<26} {count}")
    print(f"stats: {stats_path(cfg.out)}")
    if stats["interrupted"]:
        sys.exit(130)


if __name__ == "__main__":
    main()
