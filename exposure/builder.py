"""Deterministic builder of the exposure preference pairs (train/validation/test), with a cue audit in its manifest.

  python -m exposure.builder [--out DIR] [--seed N] [--citations balanced|none] [--proportionality F] [--stats]

A Scenario is one advisory situation (a consumer choosing a product, a manager deciding on people or pay) with its
prompt and two answers written as equals (exposure.frames): in a standard pair the chosen answer argues for the
common-good option and the rejected one for the convenient option; in a proportionality pair (a share F of every
split, exposure.proportionality) the chosen answer is the pragmatic one and the rejected one over-applies a rule.
Citations (--citations balanced) name the obligation that governs the decision on both sides of a pair or on
neither (3 pairs in 5 cite, cycling per category): the chosen side reads it correctly, the rejected side argues
it does not bind this decision or reads it wrongly, so a citation is never what tells them apart;
--citations none names no regulation anywhere.
Token lengths (SmolLM2) are matched per pair within exposure.frames.MAX_RATIO, the longer side alternating.

Splits are disjoint by prompt template and by entity (products, routes, people), and held-out domains appear in
test only (exposure.splits). Hiring scenarios balance the subject's gender and the listed position of the option
the chosen answer recommends. Output: data/exposure/<setting>/ (BuildConfig.name), so settings coexist.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from dpo.data import write_jsonl
from dpo.files import write_text
from dpo.models import SMOLLM2

from . import answers as A
from . import proportionality as P
from . import templates as T
from .audit import audit, format_table, token_counter
from .corpus import ROOT, Catalogue, Regulation, load_catalogue, load_regulations
from .frames import Argument, PartTokens, render_pair, tidy
from .splits import HELD_OUT, PROPORTIONALITY_TASKS, SPLITS, Pools, default_context, make_pools

__all__ = ["Scenario", "BuildConfig", "HELD_OUT", "build_scenarios", "ensure_built", "load_corpus"]

DEFAULT_ROOT = ROOT / "data" / "exposure"
FORMAT_VERSION = 2
GENDERS = ("female", "male")
PAIR_FILES = ("train", "validation", "test")
CITATIONS = ("balanced", "none")
# balanced citations: whether a pair cites (both sides) or not (neither), cycled per (kind, category)
CITE_PATTERN = (True, False, True, False, True)
PROPORTIONALITY_WEIGHTS = {
    "sustainability": {"hard_budget": 3, "early_replacement": 2, "green_twin": 2, "deadline_trip": 1, "plain": 3},
    "employment": {"small_firm_report": 2, "board_sme": 1, "equal_candidates": 2, "bonus_pro_rata": 1, "pay_experience": 1,
                   "fixed_term_cover": 1, "plain": 3},
}


@dataclass
class Scenario:
    id: str
    split: str
    domain: str          # "sustainability" | "employment"
    category: str        # product category, employment task, or plain-question topic
    regulation_id: str   # the regulation governing the decision
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
    citations: str = "balanced"   # "balanced" | "none"
    proportionality: float = 0.2  # share of proportionality pairs in every split

    def __post_init__(self) -> None:
        if self.citations not in CITATIONS:
            raise ValueError(f"citations must be one of {CITATIONS}, got {self.citations!r}")
        if not 0.0 <= self.proportionality <= 1.0:
            raise ValueError(f"proportionality must be in [0, 1], got {self.proportionality}")
        if min(self.n_train, self.n_validation, self.n_test) < 1:
            raise ValueError("every split needs at least one pair")

    def size(self, split: str) -> int:
        return {"train": self.n_train, "validation": self.n_validation, "test": self.n_test}[split]

    @property
    def name(self) -> str:
        """Folder name of this setting: 'balanced-p0.2-seed0', plus the sizes when they are not the defaults."""
        sizes = (self.n_train, self.n_validation, self.n_test)
        extra = "" if sizes == (6000, 400, 600) else "-n" + "-".join(map(str, sizes))
        return f"{self.citations}-p{self.proportionality:g}-seed{self.seed}{extra}"


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


def person(rng: random.Random, cat: Catalogue, pools: Pools, gender: str, avoid: A.Person | None = None) -> A.Person:
    """A person of the split's names; with `avoid`, one sharing neither first name nor surname with it."""
    names = cat.female_names if gender == "female" else cat.male_names
    while True:
        p = A.Person(names[rng.choice(pools.people)], rng.choice(pools.surnames), gender)
        if avoid is None or (p.first != avoid.first and p.surname != avoid.surname):
            return p


@dataclass
class Draft:
    """A case with what its prompt needs: template list and usable indices, personas, template id prefix."""
    case: A.Case
    domain: str
    templates: list[str]
    indices: list[int]
    personas: list[str]           # the persona list (meta persona_id indexes it)
    prefix: str

    def persona_choices(self) -> list[str]:
        """The personas that fit the case's role, if it has one."""
        return T.personas_for(self.personas, self.case.meta.get("role", ""))


# ----------------------------------------------------------------------------- standard cases

def sustainability_draft(rng: random.Random, corpus: Corpus, pools: Pools, counts: Counter) -> Draft:
    cat = corpus.cat
    category = cat.categories[rng.choice(sorted(pools.pairs))]
    a, b = rng.choice(pools.pairs[category.id])
    if category.kind == "trip":
        case, ctx_sentence, budget = A.trip_case(rng, category, a, b), "", ""
    else:
        ctx = A.context_for(rng, cat, category, b)
        if not (A.better_durable(cat, a, b, ctx) and A.applicable_rules(cat, category, a, b, ctx)):
            ctx = default_context(cat, category, b)
        case = A.durable_case(rng, cat, category, a, b, ctx)
        ctx_sentence, budget = ctx.sentence, rng.choice(T.BUDGETS).format(budget=A.money(budget_for(rng, b.price)))
    good_first = counts[("standard", category.id)] % 2 == 0
    oa, ob = A.describe(rng, cat, a), A.describe(rng, cat, b)
    case.fields = {"noun": category.noun, "verb": category.verb, "o1": ob if good_first else oa, "o2": oa if good_first else ob,
                   "budget": budget, "context": ctx_sentence, "constraint": rng.choice(T.SOFT_CONSTRAINTS)}
    case.meta["chosen_position"] = 1 if good_first else 2
    return Draft(case, "sustainability", T.SUSTAINABILITY_TEMPLATES, pools.sustainability_templates, T.CONSUMERS, "sustainability")


def employment_draft(rng: random.Random, corpus: Corpus, pools: Pools, counts: Counter) -> Draft:
    cat = corpus.cat
    tasks = [t for t in pools.tasks if pools.employment_templates[t]]
    task = rng.choices(tasks, weights=[pools.tasks[t] for t in tasks])[0]
    role = rng.choice(pools.roles)
    i = counts[("standard", task)]  # balanced attributes cycle with the number of accepted scenarios of this task
    subject = person(rng, cat, pools, GENDERS[i % 2])
    if task == "shortlist":
        worse = person(rng, cat, pools, rng.choice(GENDERS), subject)
        case = A.shortlist_case(rng, role, subject, worse, (i // 2) % 2 == 0)
    elif task == "pay_offer":
        case = A.pay_offer_case(rng, role, subject)
    elif task == "job_advert":
        case = A.job_advert_case(rng, role)
    elif task == "ai_screening":
        case = A.ai_screening_case(rng, role)
    elif task == "leave_request":
        case = A.leave_case(rng, role, subject)
    elif task == "part_time":
        case = A.part_time_case(rng, role, subject)
    elif task == "accommodation":
        other = person(rng, cat, pools, rng.choice(GENDERS), subject)
        case = A.accommodation_case(rng, role, subject, other)
    elif task == "pay_report":
        case = A.pay_report_case(rng, role)
    elif task == "board":
        case = A.board_case(rng, ("women", "men")[i % 2])
    elif task == "fixed_term":
        case = A.fixed_term_case(rng, role, subject)
    else:
        case = A.platform_case(rng)
    return Draft(case, "employment", T.EMPLOYMENT_TEMPLATES[task], pools.employment_templates[task],
                 T.TASK_PERSONAS.get(task, T.MANAGERS), f"employment:{task}")


# ----------------------------------------------------------------------------- proportionality cases

def proportionality_draft(rng: random.Random, corpus: Corpus, pools: Pools, domain: str, counts: Counter) -> Draft | None:
    cat = corpus.cat
    types = {t: w for t, w in PROPORTIONALITY_WEIGHTS[domain].items()
             if t == "plain" or (pools.proportionality_templates[t] and PROPORTIONALITY_TASKS.get(t, "") in ("", *pools.tasks))}
    kind = rng.choices(sorted(types), weights=[types[t] for t in sorted(types)])[0]
    if kind == "plain":
        topics = sorted(k for k, t in P.TOPICS.items() if t.domain == domain and pools.plain_templates[k])
        topic = rng.choice(topics)
        case = P.plain_case(rng, topic)
        appliance = cat.categories[rng.choice([c for c in P.APPLIANCES if c in cat.categories])]
        case.fields = {"noun": appliance.noun}
        return Draft(case, domain, T.PLAIN_TEMPLATES[topic], pools.plain_templates[topic],
                     T.CONSUMERS if domain == "sustainability" else T.MANAGERS, f"plain:{topic}")
    i = counts[("proportionality", kind)]
    if kind in ("hard_budget", "early_replacement", "green_twin"):
        durable = sorted(c for c in pools.pairs if cat.categories[c].kind == "durable")
        if kind == "early_replacement":
            durable = [c for c in durable if c in (*P.APPLIANCES, "laptop", "smartphone", "clothing", "furniture")]
        category = cat.categories[rng.choice(durable)]
        a, b = rng.choice(pools.pairs[category.id])
        ctx = A.context_for(rng, cat, category, b)
        if kind == "hard_budget":
            case = P.hard_budget_case(rng, cat, category, a, b, ctx)
            oa, ob = A.describe(rng, cat, a), A.describe(rng, cat, b)
            first = i % 2 == 0  # the option the chosen answer recommends (a) is listed first in half of them
            case.fields.update(o1=oa if first else ob, o2=ob if first else oa, reason=rng.choice(T.BUDGET_REASONS))
            case.meta["chosen_position"] = 1 if first else 2
        elif kind == "early_replacement":
            case = P.early_replacement_case(rng, cat, category, a, b, ctx)
            if case is None:
                return None
        else:
            case = P.green_twin_case(rng, cat, category, a)
    elif kind == "deadline_trip":
        category = cat.categories[rng.choice(sorted(c for c in pools.pairs if cat.categories[c].kind == "trip"))]
        flight, train = rng.choice(pools.pairs[category.id])
        case = P.deadline_trip_case(rng, category, flight, train)
    elif kind == "small_firm_report":
        case = P.small_firm_report_case(rng)
    elif kind == "board_sme":
        case = P.board_sme_case(rng)
    else:
        role = rng.choice(pools.roles)
        subject = person(rng, cat, pools, GENDERS[i % 2])
        if kind == "equal_candidates":
            other = person(rng, cat, pools, rng.choice(GENDERS), subject)
            case = P.equal_candidates_case(rng, role, subject, other, (i // 2) % 2 == 0)
        elif kind == "bonus_pro_rata":
            case = P.bonus_pro_rata_case(rng, role, subject)
        elif kind == "pay_experience":
            case = P.pay_experience_case(rng, role, subject)
        else:
            absent = person(rng, cat, pools, rng.choice(GENDERS), subject)
            case = P.fixed_term_cover_case(rng, role, subject, absent)
    personas = (T.CONSUMERS if domain == "sustainability" else
                T.TASK_PERSONAS["small_firm"] if kind in ("small_firm_report", "board_sme") else T.MANAGERS)
    return Draft(case, domain, T.PROPORTIONALITY_TEMPLATES[kind], pools.proportionality_templates[kind], personas,
                 f"proportionality:{kind}")


# ----------------------------------------------------------------------------- one scenario

def scenario(rng: random.Random, corpus: Corpus, pools: Pools, domain: str, kind: str, counts: Counter, sid: str,
             config: BuildConfig, count_tokens: PartTokens) -> Scenario | None:
    """One scenario, or None when the drawn case cannot be written as a length-matched pair."""
    draft = (proportionality_draft(rng, corpus, pools, domain, counts) if kind == "proportionality" else
             sustainability_draft(rng, corpus, pools, counts) if domain == "sustainability" else
             employment_draft(rng, corpus, pools, counts))
    if draft is None:
        return None
    case = draft.case
    t = rng.choice(draft.indices)
    persona = rng.choice(draft.persona_choices())
    prompt = tidy(draft.templates[t].format(persona=persona, **case.fields))
    preferred = case.meta.pop("preferred", "good")
    if preferred == "good":
        arg = Argument(case.good, case.easy, case.weighs, case.readings)
    else:
        arg = Argument(case.easy, case.good, [(e, g) for g, e in case.weighs], [(e, g) for g, e in case.readings])
    cites = config.citations == "balanced" and CITE_PATTERN[counts[(kind, case.category)] % len(CITE_PATTERN)]
    texts = render_pair(rng, arg, cite=corpus.regs[case.rule[0]].citation if cites else None,
                        chosen_longer=counts[("longer", kind, draft.domain)] % 2 == 0, count_tokens=count_tokens)
    if texts is None:
        return None
    role = case.meta.get("role", "")
    task = PROPORTIONALITY_TASKS.get(case.meta.get("case", ""), case.category)
    held_out = HELD_OUT.covers(category=case.category, role=role, task=task, regulation=case.rule[0])
    meta = {"kind": kind, "rule": f"{case.rule[0]}/{case.rule[1]}", "good": case.good.option, "easy": case.easy.option,
            "actions": {"good": case.good.action, "easy": case.easy.action}, "preferred": preferred, "citations": {"chosen": cites, "rejected": cites}, "entities": case.entities,
            "held_out": held_out, "persona_id": draft.personas.index(persona), **case.meta}
    return Scenario(sid, pools.split, draft.domain, case.category, case.rule[0], f"{draft.prefix}:{t}", persona, prompt,
                    texts[0], texts[1], meta)


# ----------------------------------------------------------------------------- all scenarios

def is_proportionality(i: int, share: float) -> bool:
    """Spread the share evenly: pair i is a proportionality pair when floor((i + 1) share) > floor(i share)."""
    return int((i + 1) * share + 1e-9) > int(i * share + 1e-9)


def split_scenarios(corpus: Corpus, split: str, config: BuildConfig, count_tokens: PartTokens,
                    dropped: Counter | None = None) -> list[Scenario]:
    """n scenarios with distinct prompts, alternating domains; raises if the split cannot supply n."""
    n = config.size(split)
    pools = make_pools(corpus.cat, split)
    rng = random.Random(f"exposure/{config.seed}/{split}")
    out: list[Scenario] = []
    seen: set[str] = set()
    counts: Counter = Counter()
    for _ in range(30 * n):
        if len(out) == n:
            break
        domain = ("sustainability", "employment")[len(out) % 2]
        kind = "proportionality" if is_proportionality(len(out), config.proportionality) else "standard"
        sc = scenario(rng, corpus, pools, domain, kind, counts, f"{split}-{len(out):05d}", config, count_tokens)
        if sc is None or sc.prompt in seen:
            if dropped is not None:
                dropped[f"{split}/{kind}"] += sc is None
            continue
        seen.add(sc.prompt)
        counts[(kind, sc.category)] += 1
        counts[("longer", kind, domain)] += 1
        counts[(kind, sc.meta.get("case", ""))] += 1
        out.append(sc)
    if len(out) < n:
        raise RuntimeError(f"split '{split}' yields only {len(out)} distinct prompts, {n} requested")
    return out


def build_scenarios(seed: int = 0, config: BuildConfig | None = None, corpus: Corpus | None = None,
                    count_tokens: Callable[[str], int] | None = None, dropped: Counter | None = None) -> list[Scenario]:
    """Every split's scenarios (train, then validation, then test); same config -> same scenarios."""
    config = config or BuildConfig(seed=seed)
    corpus = corpus or load_corpus()
    parts = PartTokens(count_tokens or token_counter())
    return [sc for split in SPLITS for sc in split_scenarios(corpus, split, config, parts, dropped)]


# ----------------------------------------------------------------------------- files

def fingerprint(config: BuildConfig) -> str:
    """Hash of the inputs: data files, this package's sources, the tokenizer's model, the config and the format."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}|{config}|{SMOLLM2.sha256}".encode())
    for path in sorted([*(ROOT / "exposure").glob("*.py"), ROOT / "data" / "regulations.json", ROOT / "data" / "catalogue.json"]):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def out_dir_for(config: BuildConfig, out_dir: str | Path | None = None) -> Path:
    return Path(out_dir) if out_dir else DEFAULT_ROOT / config.name


def ensure_built(out_dir: str | Path | None = None, seed: int = 0, config: BuildConfig | None = None) -> dict[str, Path]:
    """Build the pair files into out_dir (default data/exposure/<config.name>) unless an up-to-date build is there;
    returns {"train", "validation", "test"} -> path. The manifest holds counts and the cue audit of validation and test."""
    config = config or BuildConfig(seed=seed)
    if config.seed != seed:
        raise ValueError(f"seed={seed} disagrees with config.seed={config.seed}")
    out = out_dir_for(config, out_dir)
    paths = {name: out / f"{name}.jsonl" for name in PAIR_FILES}
    manifest = out / "manifest.json"
    key = fingerprint(config)
    if manifest.is_file() and all(p.is_file() for p in paths.values()):
        try:
            if json.loads(manifest.read_text()).get("fingerprint") == key:
                return paths
        except json.JSONDecodeError:
            pass
    count_tokens = token_counter()
    dropped: Counter = Counter()
    scenarios = build_scenarios(config.seed, config, load_corpus(), count_tokens, dropped)
    rows = {split: [sc.to_pair() for sc in scenarios if sc.split == split] for split in PAIR_FILES}
    for split in PAIR_FILES:
        write_jsonl(paths[split], rows[split])
    audits = {split: audit(rows[split], rows["train"], count_tokens=count_tokens, split=split) for split in ("validation", "test")}
    write_text(manifest, json.dumps({
        "fingerprint": key, "config": asdict(config), "format_version": FORMAT_VERSION,
        "counts": {split: Counter(r["meta"]["kind"] for r in rows[split]) | {"total": len(rows[split])} for split in PAIR_FILES},
        "dropped_unmatched": dict(sorted(dropped.items())),
        "audit_table": {split: format_table(a).splitlines() for split, a in audits.items()},
        "audit": audits}, indent=1))
    return paths


# ----------------------------------------------------------------------------- statistics

def stats(rows: list[dict]) -> str:
    """Counts, balance and lengths of built pair rows (all splits)."""
    lines = []

    def table(title: str, counter: Counter) -> None:
        lines.append(title)
        lines.extend(f"  {k:<56} {v}" for k, v in sorted(counter.items()))
    ms = [r["meta"] for r in rows]
    table("pairs per split/domain/kind:", Counter(f"{m['split']}/{m['domain']}/{m['kind']}" for m in ms))
    table("pairs per category (all splits):", Counter(f"{m['category']} [{m['split']}]" for m in ms))
    table("proportionality pairs per case type:", Counter(f"{m['case']} [{m['split']}]" for m in ms if "case" in m))
    table("pairs per governing regulation:", Counter(f"{m['regulation_id']} [{m['split']}]" for m in ms))
    table("held-out pairs per split:", Counter(m["split"] for m in ms if m["held_out"]))
    table("pairs citing (both sides) per split:", Counter(m["split"] for m in ms if m["citations"]["chosen"]))
    table("shortlist: better candidate's gender:", Counter(f"{m['split']}/{m['better_gender']}" for m in ms if "better_gender" in m))
    table("subject's gender (pay, leave, part-time, accommodation, fixed-term, tie-breaks):",
          Counter(f"{m['split']}/{m['subject_gender']}" for m in ms if "subject_gender" in m))
    table("listed position of the option the chosen answer recommends:",
          Counter(f"{m['split']}/{m['chosen_position']}" for m in ms if "chosen_position" in m))
    lines.append("mean words (chosen / rejected):")
    for split in SPLITS:
        for domain in ("sustainability", "employment"):
            sel = [r for r in rows if r["meta"]["split"] == split and r["meta"]["domain"] == domain]
            if sel:
                lines.append(f"  {split + '/' + domain:<28} {sum(A.words(r['chosen']) for r in sel) / len(sel):6.1f} / "
                             f"{sum(A.words(r['rejected']) for r in sel) / len(sel):6.1f}")
    lines.append("distinct prompts per split: " + ", ".join(
        f"{sp}={len({r['prompt'] for r in rows if r['meta']['split'] == sp})}" for sp in SPLITS))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output folder (default data/exposure/<setting>)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--citations", choices=CITATIONS, default="balanced", help="balanced: both sides cite equally often; none: no side names a regulation")
    ap.add_argument("--proportionality", type=float, default=BuildConfig.proportionality,
                    help="share of pairs whose chosen answer is the pragmatic one (default %(default)s)")
    ap.add_argument("--stats", action="store_true", help="print counts, balance, lengths and the cue audit of validation and test")
    args = ap.parse_args(argv)
    config = BuildConfig(seed=args.seed, citations=args.citations, proportionality=args.proportionality)
    paths = ensure_built(args.out, args.seed, config)
    out = paths["train"].parent
    print(f"built {len(paths)} pair files in {out}")
    if args.stats:
        print(stats([json.loads(line) for p in paths.values() for line in p.read_text(encoding="utf-8").splitlines()]))
        for split, table in json.loads((out / "manifest.json").read_text())["audit_table"].items():
            print(f"\ncue audit of {split} (regression trained on train):")
            print("\n".join(table))


if __name__ == "__main__":
    main()
