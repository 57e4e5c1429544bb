"""Train an advisor with DPO, or with the RLHF baselines (reward model, PPO, GRPO; rlhf/).

  python train.py --strategy exposure                  # embedded SmolLM2-135M, LoRA, exposure pairs
  python train.py --strategy legends                   # the authored legends (--legends-source generated|FILE)
  python train.py --strategy mixed --mix 0.5
  python train.py --data my_pairs.jsonl --loss ipo --beta 0.5 --max-steps 200
  python train.py --config experiments/beta.py:beta0.5
  python train.py --resume runs/exposure-20261123-120000
  python train.py --algo rm --strategy exposure        # a reward model (runs/rm-exposure-*/reward_model/)
  python train.py --algo ppo --strategy exposure --reward-model runs/rm-exposure-20261123-120000
  python train.py --algo grpo --strategy exposure --reward-fn my_rewards.py:recommends_common_good
  torchrun --nproc_per_node 8 train.py --strategy exposure --dist ddp   # one process a GPU (dpo/distributed.py)

Every flag is a field of dpo.config.TrainConfig; strategies.py turns --strategy into pair files.
"""
import sys

import strategies
from dpo import distributed
from dpo.config import build_parser, config_from_args
from dpo.data import DataError
from dpo.models import ModelError
from dpo.trainer import TrainingDiverged


def main(argv=None) -> None:
    args = build_parser(__doc__, strategies.CHOICES).parse_args(argv)
    try:
        cfg = config_from_args(args)
        run_dir = strategies.train_one(cfg)
    except (DataError, ModelError, TrainingDiverged, ValueError, FileNotFoundError, FileExistsError) as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        writer = distributed.is_main()
        distributed.teardown()
    if writer:
        print(f"run folder: {run_dir}")


if __name__ == "__main__":
    main()
