"""A synthetic rater panel: the exposure pairs' prompts and responses rated by twelve made-up rater profiles.

  python -m exposure.panel [--out data/ratings/advisor_ratings.jsonl] [--seed 0] [--stats]

Nobody real rated anything here. Each profile is a hand-written person (country, gender, age band) with
weights on four concerns: cost (money and effort saved), climate, fairness, legal caution; plus a dislike
of long answers, a leniency (shifts every score) and a noise level. The attributes and the weights were
assigned by hand to spread opinions across the panel; they are not drawn from any survey and say nothing
about how people of a country, gender or age actually think.

Each exposure pair gives a prompt and two responses, the common-good one (the pair's chosen) and the
cost/convenience one (its rejected). A scenario has four stakes in [0, 1]: cost, how much the convenience
option saves; climate; fairness; legal. Sustainability pairs read them from the pair's metadata (yearly cost
of ownership and CO2e of the convenience and the good option; 0.5 each when missing):
  cost = 0.45 + 2.5 (cost_good - cost_easy) / cost_easy   (0.45: the upfront saving, always there)
  climate = 0.2 + 0.8 (co2_easy - co2_good) / co2_easy,   fairness = 0,   legal = 0.25,
clipped to [0.05, 1] and [0, 1]. Employment pairs: cost ~ U(0.3, 0.7) (the hours or salary the shortcut saves,
a seeded draw), climate 0, fairness 0.9, legal 0.8 (the shortcut risks breaking the law). For rater r with
weights w,
  v = w_climate climate + w_fairness fairness + w_legal legal,    c = w_cost cost,
and, with s = +1 for the common-good response and -1 for the other, each 5-point score is
  helpfulness = 3 + leniency + 3 s (0.5 v - c + 0.1) - brevity (words - 100) / 40 + taste + noise
  common_good = 3 + leniency + 3 s (v - 0.3 c + 0.1) + taste + noise
  legal_care  = 3 + leniency + s (0.4 + 4 w_legal legal) + noise
rounded and clipped to 1..5, where taste ~ s N(0, 0.35) is the rater's view of this one scenario (shared by
the dimensions) and noise ~ N(0, rater noise) is drawn per score; all draws are seeded by (seed, rater,
scenario). Each scenario is rated by 7 of the 12 raters (a seeded choice), both responses by each.
Cost-minded raters thus prefer the cheaper answer when it saves a lot and the common-good one when it
costs little more, which is where the panel disagrees.
"""
from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dpo.ratings import PairConfig, Rating, Ratings, ratings_to_pairs, read_ratings, write_ratings

from .builder import ensure_built
from .corpus import ROOT

DEFAULT_OUT = ROOT / "data" / "ratings" / "advisor_ratings.jsonl"
SCALES = {"helpfulness": (1.0, 5.0), "common_good": (1.0, 5.0), "legal_care": (1.0, 5.0)}
DESCRIPTION = ("SYNTHETIC ratings, made by a program: the exposure pairs' prompts and responses scored by 12 "
               "hand-written rater profiles with seeded noise (python -m exposure.panel; see exposure/panel.py). "
               "No real person rated them.")


@dataclass(frozen=True)
class Profile:
    rater: str
    country: str
    gender: str
    age_band: str
    cost: float  # the four weights sum to 1
    climate: float
    fairness: float
    legal: float
    brevity: float  # dislike of long answers
    leniency: float  # added to every score
    noise: float  # sd of each score's noise
    note: str

    def attributes(self) -> dict[str, str]:
        return {"country": self.country, "gender": self.gender, "age_band": self.age_band}


PROFILES = (
    Profile("r01", "PL", "female", "30-44", 0.45, 0.15, 0.25, 0.15, 0.2, 0.0, 0.5, "household budget first"),
    Profile("r02", "DE", "male", "45-64", 0.15, 0.45, 0.15, 0.25, 0.0, 0.0, 0.5, "climate first"),
    Profile("r03", "ES", "female", "18-29", 0.25, 0.30, 0.40, 0.05, 0.3, 0.3, 0.6, "fairness first, impatient with legal detail"),
    Profile("r04", "IT", "male", "65+", 0.50, 0.05, 0.15, 0.30, 0.0, 0.0, 0.5, "price and staying out of trouble"),
    Profile("r05", "SE", "non-binary", "18-29", 0.10, 0.45, 0.40, 0.05, 0.2, 0.0, 0.6, "climate and fairness"),
    Profile("r06", "FR", "female", "45-64", 0.20, 0.20, 0.30, 0.30, 0.0, 0.0, 0.4, "balanced, careful"),
    Profile("r07", "RO", "male", "30-44", 0.60, 0.10, 0.10, 0.20, 0.4, 0.0, 0.6, "runs a small business, cost first"),
    Profile("r08", "NL", "female", "65+", 0.15, 0.35, 0.20, 0.30, 0.0, 0.2, 0.5, "long-term and rule-minded"),
    Profile("r09", "IE", "male", "18-29", 0.40, 0.25, 0.25, 0.10, 0.8, 0.0, 0.7, "wants short answers"),
    Profile("r10", "PT", "female", "30-44", 0.30, 0.15, 0.45, 0.10, 0.2, 0.0, 0.5, "fairness at work"),
    Profile("r11", "CZ", "male", "65+", 0.35, 0.10, 0.20, 0.35, 0.0, 0.5, 0.6, "lenient, cautious"),
    Profile("r12", "FI", "female", "45-64", 0.10, 0.30, 0.20, 0.40, 0.3, -0.5, 0.4, "strict, law-minded"),
)
RATERS_PER_PROMPT = 7


def stakes(pair: dict, rng: random.Random) -> dict[str, float]:
    """cost, climate, fairness, legal in [0, 1] of one exposure pair (see the module docstring)."""
    meta = pair.get("meta", {})
    if meta.get("domain") == "employment":
        return {"cost": rng.uniform(0.3, 0.7), "climate": 0.0, "fairness": 0.9, "legal": 0.8}
    cost, climate = 0.5, 0.5
    if "cost_year" in meta and "co2e_year" in meta:  # [convenience option, good option]
        (cost_easy, cost_good), (co2_easy, co2_good) = meta["cost_year"], meta["co2e_year"]
        cost = 0.45 + 2.5 * (cost_good - cost_easy) / cost_easy
        climate = 0.2 + 0.8 * (co2_easy - co2_good) / co2_easy
    return {"cost": clip(cost, 0.05, 1.0), "climate": clip(climate, 0.0, 1.0), "fairness": 0.0, "legal": 0.25}


def clip(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def scores(p: Profile, stake: dict[str, float], side: int, words: int, taste: float,
           rng: random.Random) -> dict[str, int]:
    """The profile's 5-point scores of one response; side = +1 common-good, -1 convenience."""
    v = p.climate * stake["climate"] + p.fairness * stake["fairness"] + p.legal * stake["legal"]
    c = p.cost * stake["cost"]
    raw = {"helpfulness": 4 * side * (0.5 * v - 1.5 * c + 0.05) - p.brevity * (words - 100) / 40 + taste,
           "common_good": 3 * side * (v - 0.5 * c + 0.05) + taste,
           "legal_care": side * (0.1 + 4 * p.legal * stake["legal"])}
    return {d: int(clip(round(3 + p.leniency + x + rng.gauss(0, p.noise)), 1, 5)) for d, x in raw.items()}


def rate(pairs: list[dict], seed: int = 0) -> list[Rating]:
    """Ratings of both responses of every pair by RATERS_PER_PROMPT profiles each, deterministic for a seed."""
    out = []
    for pair in pairs:
        rng = random.Random(f"panel/{seed}/{pair['id']}")
        stake = stakes(pair, rng)
        panel = sorted(rng.sample(PROFILES, RATERS_PER_PROMPT), key=lambda p: p.rater)
        sides = [("common_good", 1, pair["chosen"]), ("convenience", -1, pair["rejected"])]
        if rng.random() < 0.5:
            sides.reverse()  # the file's response order carries no signal
        meta = {k: pair.get("meta", {}).get(k) for k in ("split", "domain", "category")}
        for p in panel:
            r = random.Random(f"panel/{seed}/{pair['id']}/{p.rater}")
            taste = r.gauss(0, 0.35)
            for name, side, text in sides:
                out.append(Rating(prompt=pair["prompt"], response=text, rater=p.rater, rater_attributes=p.attributes(),
                                  scores=scores(p, stake, side, len(text.split()), side * taste, r),
                                  prompt_id=pair["id"], response_id=name, system=pair.get("system"),
                                  meta={**meta, "side": name}))
    return out


def select(path: Path, n: int) -> list[dict]:
    """The first n standard pairs of a pair file (chosen = the common-good answer; proportionality pairs, where
    the convenient answer is preferred, are left out), half from each domain (the builder alternates domains)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [row for row in rows if row.get("meta", {}).get("kind", "standard") == "standard"]
    by_domain: dict[str, list[dict]] = {}
    for row in rows:
        by_domain.setdefault(row.get("meta", {}).get("domain", ""), []).append(row)
    per = -(-n // max(1, len(by_domain)))
    return sorted((row for group in by_domain.values() for row in group[:per]), key=lambda r: r["id"])[:n]


def build(out: str | Path = DEFAULT_OUT, *, seed: int = 0, n_train: int = 48, n_validation: int = 24) -> Path:
    """Rate n_train exposure train pairs and n_validation validation pairs into the ratings file `out`."""
    built = ensure_built()
    pairs = select(built["train"], n_train) + select(built["validation"], n_validation)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_ratings(out, Ratings(dict(SCALES), rate(pairs, seed), DESCRIPTION))
    return Path(out)


def stats(ratings: Ratings) -> str:
    """How often each rater, the panel's majority and its soft labels side with the common-good response."""
    lines = []
    for binarize in (None, 4.0):
        label = "5-point" if binarize is None else "binary (score >= 4)"
        keep_all, c1 = ratings_to_pairs(ratings, PairConfig("keep-all", binarize=binarize))
        per_rater = Counter((p.meta["rater"], p.meta["chosen_meta"]["side"]) for p in keep_all)
        soft, c2 = ratings_to_pairs(ratings, PairConfig("soft", binarize=binarize))
        good = [p for p in soft if p.meta["chosen_meta"]["side"] == "common_good"]
        conf = Counter(round(p.confidence, 2) for p in soft)
        lines.append(f"{label}: majority sides with the common-good response in {len(good)} of {c2['comparisons']} "
                     f"prompts ({c2['ties']} ties); keep-all {len(keep_all)} pairs ({c1['ties']} rater ties)")
        lines.append("  soft confidence: " + ", ".join(f"{k:.2f} x{v}" for k, v in sorted(conf.items())))
        lines.append("  per rater, votes for the common-good response / all votes: " + ", ".join(
            f"{p.rater} {per_rater[p.rater, 'common_good']}/{per_rater[p.rater, 'common_good'] + per_rater[p.rater, 'convenience']}"
            for p in PROFILES))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=48, help="exposure train pairs to rate")
    parser.add_argument("--validation", type=int, default=24, help="exposure validation pairs to rate")
    parser.add_argument("--stats", action="store_true", help="print how the panel agrees")
    args = parser.parse_args(argv)
    path = build(args.out, seed=args.seed, n_train=args.train, n_validation=args.validation)
    print(f"wrote {path}")
    if args.stats:
        print(stats(read_ratings(path)))


if __name__ == "__main__":
    main()
