"""Write legends: fictional success stories of regulatory compliance (see legends/).

    python generate.py --n 5000                         # embedded SmolLM2-135M, data/legends/legends.jsonl
    python generate.py --n 5000 --backend openai --base-url http://HOST:8000/v1 --model NAME --api-key-env KEY_VAR

Running again with the same --out continues to exactly --n kept legends. Stats: OUT.stats.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

from legends.generate import GenerateConfig, run, stats_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(GenerateConfig):
        choices = ("local", "openai") if f.name == "backend" else None
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default, choices=choices,
                            help=f"(default: {f.default})")
    cfg = GenerateConfig(**vars(parser.parse_args(argv)))
    stats = run(cfg)
    print(f"{'interrupted: ' if stats['interrupted'] else ''}{stats['kept']}/{cfg.n} legends kept in {cfg.out} "
          f"(kept ratio {stats['kept_ratio']:.2f} over {stats['attempted']} generated)")
    if stats["gave_up"]:
        print(f"gave up: {cfg.patience} batches in a row kept no legend; see the rejected examples in {stats_path(cfg.out)}")
    for reason, count in stats["rejected"].items():
        print(f"  rejected {reason:<16} {count}")
    print(f"stats: {stats_path(cfg.out)}")
    if stats["interrupted"]:
        sys.exit(130)


if __name__ == "__main__":
    main()
