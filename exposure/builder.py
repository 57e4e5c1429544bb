"""Deterministic builder of the exposure data: preference pairs (train/validation/test) and evaluation suites.

  python -m exposure.builder [--out DIR] [--seed N] [--stats]

A Scenario is one advisory situation (a consumer choosing a product, a manager deciding on people or pay) with
its prompt, the common-good answer (chosen) and the cost/convenience answer (rejected). Splits are disjoint by
prompt template and by entity (products, routes, people), and held-out domains appear in test only
(exposure.splits). Hiring scenarios balance the better candidate's gender and list position exactly.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dpo.data import write_jsonl
from dpo.files import write_text

from . import answers as A
from . import templates as T
from .corpus import ROOT, Catalogue, Regulation, load_catalogue, load_regulations
from .splits import HELD_OUT, SPLITS, Pools, default_context, make_pools
from .suites import build_suites

__all__ = ["Scenario", "BuildConfig", "HELD_OUT", "build_scenarios", "ensure_built", "load_corpus"]

DEFAULT_OUT = ROOT / "data" / "exposure"
FORMAT_VERSION = 1
GENDERS = ("female", "male")
PAIR_FILES = ("train", "validation", "test")
SUITE_FILES = ("suite_compliance", "suite_fact", "suite_bias", "suite_rigidity", "suite_open")


@dataclass
class Scenario:
    id: str
    split: str
    domain: str          # "sustainability" | "employment"
    category: str        # product category, or employment task
    regulation_id: str   # the regulation the chosen answer cites
    template_id: str
    persona: str
    prompt: str
    chosen: str
    rejected: str
    meta: dict = field(default_factory=dict)

    def to_pair(self) -> dict:
        """A row of a pair file (dpo.data format)."""
        meta = {"split": self.split, "domain": self.domain, "category": self.category, "regulation_id": self.regulation_id,
                "template_id": self.template_id, **self.meta}
        return {"id": self.id, "prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected, "meta": meta}


@dataclass(frozen=True)
class BuildConfig:
    seed: int = 0
    n_train: int = 6000
    n_validation: int = 400
    n_test: int = 600
    n_compliance: int = 240
    n_bias_pairs: int = 100
    n_rigidity: int = 120
    n_open: int = 60

    def size(self, split: str) -> int:
        return {"train": self.n_train, "validation": self.n_validation, "test": self.n_test}[split]


@dataclass(frozen=True)
class Corpus:
    regs: dict[str, Regulation]
    cat: Catalogue


def load_corpus() -> Corpus:
    regs = load_regulations()
    return Corpus({r.id: r for r in regs}, load_catalogue(regulations=regs))


def budget_for(rng: random.Random, price: float) -> int:
    step = 50 if price < 3000 else 500
    return int(-(-price * rng.uniform(1.0, 1.3) // step) * step)


# ----------------------------------------------------------------------------- one scenario

def sustainability_case(rng: random.Random, corpus: Corpus, pools: Pools, counts: Counter) -> tuple[A.Case, dict]:
    cat = corpus.cat
    category = cat.categories[rng.choice(sorted(pools.pairs))]
    a, b = rng.choice(pools.pairs[category.id])
    if category.kind == "trip":
        case, ctx_sentence, budget = A.trip_case(rng, cat, corpus.regs, category, a, b), "", ""
    else:
        ctx = A.context_for(rng, cat, category, b)
        if not A.better_durable(cat, a, b, ctx):
            ctx = default_context(cat, category, b)
        case = A.durable_case(rng, cat, corpus.regs, category, a, b, ctx)
        ctx_sentence, budget = ctx.sentence, rng.choice(T.BUDGETS).format(budget=A.money(budget_for(rng, b.price)))
    good_first = counts[category.id] % 2 == 0  # alternates within each category: position is no cue
    oa, ob = A.describe(rng, cat, a), A.describe(rng, cat, b)
    case.fields = {"noun": category.noun, "verb": category.verb, "o1": ob if good_first else oa, "o2": oa if good_first else ob,
                   "budget": budget, "context": ctx_sentence, "constraint": rng.choice(T.SOFT_CONSTRAINTS)}
    case.meta["good_position"] = 1 if good_first else 2
    return case, {"template_list": T.SUSTAINABILITY_TEMPLATES, "templates": pools.sustainability_templates,
                  "personas": T.CONSUMERS, "template_prefix": "sustainability"}


def person(rng: random.Random, cat: Catalogue, pools: Pools, gender: str, avoid: set[str] = frozenset()) -> A.Person:
    names = cat.female_names if gender == "female" else cat.male_names
    while True:
        p = A.Person(names[rng.choice(pools.people)], rng.choice(pools.surnames), gender)
        if p.first not in avoid:
            return p


def employment_case(rng: random.Random, corpus: Corpus, pools: Pools, counts: Counter) -> tuple[A.Case, dict]:
    cat, regs, practices = corpus.cat, corpus.regs, corpus.cat.practices
    tasks = [t for t in pools.tasks if pools.employment_templates[t]]
    task = rng.choices(tasks, weights=[pools.tasks[t] for t in tasks])[0]
    role = rng.choice(pools.roles)
    i = counts[task]  # balanced attributes cycle with the number of accepted scenarios of this task
    subject = person(rng, cat, pools, GENDERS[i % 2])
    if task == "shortlist":
        worse = person(rng, cat, pools, rng.choice(GENDERS), {subject.first})
        case = A.shortlist_case(rng, regs, role, subject, worse, (i // 2) % 2 == 0, SHORTLIST_RULES, practices)
    elif task == "pay_offer":
        case = A.pay_offer_case(rng, regs, role, subject, PAY_OFFER_RULES, practices)
    elif task == "job_advert":
        case = A.job_advert_case(rng, regs, role, JOB_ADVERT_RULES, practices)
    elif task == "ai_screening":
        case = A.ai_screening_case(rng, regs, role, AI_RULES, practices)
    elif task == "leave_request":
        case = A.leave_case(rng, regs, role, subject, practices)
    elif task == "part_time":
        case = A.part_time_case(rng, regs, role, subject, practices)
    elif task == "accommodation":
        other = person(rng, cat, pools, rng.choice(GENDERS), {subject.first})
        case = A.accommodation_case(rng, regs, role, subject, other, practices)
    elif task == "pay_report":
        case = A.pay_report_case(rng, regs, role, practices)
    elif task == "board":
        case = A.board_case(rng, regs, ("women", "men")[i % 2], practices)
    elif task == "fixed_term":
        case = A.fixed_term_case(rng, regs, role, subject)
    else:
        case = A.platform_case(rng, regs)
    return case, {"template_list": T.EMPLOYMENT_TEMPLATES[task], "templates": pools.employment_templates[task],
                  "personas": T.TASK_PERSONAS.get(task, T.MANAGERS), "template_prefix": f"employment:{task}"}


SHORTLIST_RULES = [("equal-treatment-2006-54", "access"), ("employment-equality-2000-78", "grounds"),
                   ("race-equality-2000-43", "scope"), ("equal-treatment-2006-54", "burden-of-proof")]
PAY_OFFER_RULES = [("pay-transparency-2023-970", "pay-history"), ("equal-treatment-2006-54", "equal-pay"),
                   ("pay-transparency-2023-970", "criteria"), ("pay-transparency-2023-970", "equal-value")]
JOB_ADVERT_RULES = [("pay-transparency-2023-970", "pay-range"), ("pay-transparency-2023-970", "pay-history")]
AI_RULES = [("ai-act-2024-1689", "recruitment-high-risk"), ("ai-act-2024-1689", "human-oversight"),
            ("ai-act-2024-1689", "inform-workers"), ("gdpr-2016-679", "art22")]


def scenario(rng: random.Random, corpus: Corpus, pools: Pools, domain: str, counts: Counter, sid: str) -> Scenario:
    case, how = (sustainability_case(rng, corpus, pools, counts) if domain == "sustainability"
                 else employment_case(rng, corpus, pools, counts))
    t = rng.choice(how["templates"])
    persona = rng.choice(how["personas"])
    prompt = A.tidy(how["template_list"][t].format(persona=persona, **case.fields))
    role = case.meta.get("role", "")
    held_out = HELD_OUT.covers(category=case.task, role=role, task=case.task, regulation=case.rule[0])
    meta = {"task": case.task, "rule": f"{case.rule[0]}/{case.rule[1]}", "entities": case.entities, "held_out": held_out,
            "persona_id": how["personas"].index(persona), **case.meta}
    return Scenario(sid, pools.split, domain, case.task, case.rule[0], f"{how['template_prefix']}:{t}", persona, prompt,
                    A.tidy(case.chosen), A.tidy(case.rejected), meta)


# ----------------------------------------------------------------------------- all scenarios

def split_scenarios(corpus: Corpus, split: str, n: int, seed: int) -> list[Scenario]:
    """n scenarios with distinct prompts, alternating domains; raises if the split cannot supply n."""
    pools = make_pools(corpus.cat, split)
    rng = random.Random(f"exposure/{seed}/{split}")
    out: list[Scenario] = []
    seen: set[str] = set()
    counts: Counter = Counter()
    for _ in range(20 * n):
        if len(out) == n:
            break
        domain = ("sustainability", "employment")[len(out) % 2]
        sc = scenario(rng, corpus, pools, domain, counts, f"{split}-{len(out):05d}")
        if sc.prompt in seen:
            continue
        seen.add(sc.prompt)
        counts[sc.category] += 1
        out.append(sc)
    if len(out) < n:
        raise RuntimeError(f"split '{split}' yields only {len(out)} distinct prompts, {n} requested")
    return out


def build_scenarios(seed: int = 0, config: BuildConfig | None = None, corpus: Corpus | None = None) -> list[Scenario]:
    """Every split's scenarios (train, then validation, then test); same seed -> same scenarios."""
    config = config or BuildConfig(seed=seed)
    corpus = corpus or load_corpus()
    return [sc for split in SPLITS for sc in split_scenarios(corpus, split, config.size(split), seed)]


# ----------------------------------------------------------------------------- files

def fingerprint(config: BuildConfig) -> str:
    """Hash of the inputs: data files, this package's sources, the config and the format version."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}|{config}".encode())
    for path in sorted([*(ROOT / "exposure").glob("*.py"), ROOT / "data" / "regulations.json", ROOT / "data" / "catalogue.json"]):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def ensure_built(out_dir: str | Path = DEFAULT_OUT, seed: int = 0, config: BuildConfig | None = None) -> dict[str, Path]:
    """Build the pair files and suites into out_dir unless an up-to-date build is there; returns name -> path
    for train, validation, test and suite_{compliance,fact,bias,rigidity,open}."""
    config = config or BuildConfig(seed=seed)
    if config.seed != seed:
        raise ValueError(f"seed={seed} disagrees with config.seed={config.seed}")
    out = Path(out_dir)
    paths = {name: out / f"{name}.jsonl" for name in PAIR_FILES + SUITE_FILES}
    manifest = out / "manifest.json"
    key = fingerprint(config)
    if manifest.is_file() and all(p.is_file() for p in paths.values()):
        try:
            if json.loads(manifest.read_text()).get("fingerprint") == key:
                return paths
        except json.JSONDecodeError:
            pass
    corpus = load_corpus()
    scenarios = build_scenarios(seed, config, corpus)
    for split in PAIR_FILES:
        write_jsonl(paths[split], (sc.to_pair() for sc in scenarios if sc.split == split))
    suites = build_suites(corpus, [sc for sc in scenarios if sc.split == "test"], config)
    for kind, items in suites.items():
        write_jsonl(paths[f"suite_{kind}"], items)
    counts = {name: sum(1 for sc in scenarios if sc.split == name) for name in PAIR_FILES}
    counts.update({f"suite_{k}": len(v) for k, v in suites.items()})
    write_text(manifest, json.dumps({"fingerprint": key, "seed": seed, "format_version": FORMAT_VERSION, "counts": counts}, indent=1))
    return paths


# ----------------------------------------------------------------------------- statistics

def stats(scenarios: list[Scenario], suites: dict[str, list[dict]]) -> str:
    lines = []
    def table(title: str, counter: Counter) -> None:
        lines.append(title)
        lines.extend(f"  {k:<48} {v}" for k, v in sorted(counter.items()))
    table("pairs per split/domain:", Counter(f"{s.split}/{s.domain}" for s in scenarios))
    table("pairs per category/task (all splits):", Counter(f"{s.category} [{s.split}]" for s in scenarios))
    table("pairs per regulation cited:", Counter(f"{s.regulation_id} [{s.split}]" for s in scenarios))
    table("held-out pairs per split:", Counter(s.split for s in scenarios if s.meta["held_out"]))
    table("shortlist: better candidate's gender:", Counter(f"{s.split}/{s.meta['better_gender']}" for s in scenarios if "better_gender" in s.meta))
    table("shortlist: better candidate's position:", Counter(f"{s.split}/{s.meta['better_position']}" for s in scenarios if "better_position" in s.meta))
    table("subject's gender (pay, leave, part-time, accommodation, fixed-term):", Counter(f"{s.split}/{s.meta['subject_gender']}" for s in scenarios if "subject_gender" in s.meta))
    table("products: common-good option's position:", Counter(f"{s.split}/{s.meta['good_position']}" for s in scenarios if "good_position" in s.meta))
    lines.append("mean words (chosen / rejected), mean characters (chosen / rejected):")
    for split in SPLITS:
        for domain in ("sustainability", "employment"):
            sel = [s for s in scenarios if s.split == split and s.domain == domain]
            if sel:
                mean = lambda f: sum(map(f, sel)) / len(sel)  # noqa: E731
                lines.append(f"  {split + '/' + domain:<28} words {mean(lambda s: A.words(s.chosen)):6.1f} / "
                             f"{mean(lambda s: A.words(s.rejected)):6.1f}   chars {mean(lambda s: len(s.chosen)):6.0f} / "
                             f"{mean(lambda s: len(s.rejected)):6.0f}")
    lines.append("distinct prompts per split: " + ", ".join(
        f"{sp}={len({s.prompt for s in scenarios if s.split == sp})}" for sp in SPLITS))
    table("suite items (held-out in brackets):", Counter({
        f"{k}": f"{len(v)} ({sum(1 for it in v if it.get('held_out'))})" for k, v in suites.items()}))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default data/exposure)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stats", action="store_true", help="print counts per split, domain, category, regulation, gender balance and lengths")
    args = ap.parse_args(argv)
    paths = ensure_built(args.out, args.seed)
    print(f"built {len(paths)} files in {args.out}")
    if args.stats:
        config = BuildConfig(seed=args.seed)
        corpus = load_corpus()
        scenarios = build_scenarios(args.seed, config, corpus)
        print(stats(scenarios, build_suites(corpus, [s for s in scenarios if s.split == "test"], config)))


if __name__ == "__main__":
    main()
