"""Legend specs, the two prompts each spec yields (legend and counter-legend), and few-shot examples.

A spec has the fields of the authored corpus's specs (data/legends/authored.jsonl): a regulation and one of
its obligations (regulation_id, obligation_key, regulation, number, obligation, domain), a situation, a
protagonist, a setting and a voice. It yields two prompts:

  legend   challenge -> the protagonist follows the obligation -> success that others imitate
  counter  the same situation; the protagonist takes the convenient option and is satisfied; the rule is named

spec(index, regulations, seed) depends only on (seed, index): a resumed run continues the same sequence, and a
legend's id, "s{seed}-{index:06d}", names its spec.

The prompts are written for small models (SmolLM2-135M is weak): short, concrete, the regulation's name and
obligation spelled out. messages() puts `n` authored examples before the request as earlier user/assistant
turns, written with the same prompt (for the counter prompt, the authored counters), each example's user turn
asking for that example's own length in words.

Few-shot choice (few_shot()): deterministic per spec, from the examples of the spec's domain whose obligation
differs from the spec's (then the same obligation, then the other domain; never the same spec). The
candidates are shuffled once per block of FEW_SHOT_BLOCK spec indices, and each spec takes the first `n`
that suit it, so the specs of one block and domain mostly share their examples: a shared prefix that the
local backend computes once (dpo.sampling.PrefixCache). Across blocks the examples change.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

KINDS = ("legend", "counter")
FEW_SHOT_BLOCK = 64  # spec indices whose few-shot candidates are shuffled alike
SPEC_FIELDS = ("regulation", "number", "obligation", "situation", "protagonist", "setting", "voice")

SITUATIONS = {
    "sustainability": ["a purchase for the household", "replacing a broken appliance", "a purchase for a small business",
                       "choosing a supplier", "a product decision at work", "refitting a shop",
                       "a purchase for a school or club", "clearing out old equipment", "planning the year's budget",
                       "a renovation", "choosing what to stock", "a purchase under time pressure"],
    "employment": ["filling a vacancy", "a promotion", "setting the pay of a new hire", "planning the staff rota",
                   "a restructuring", "renewing contracts", "an employee's request for leave",
                   "a complaint from an employee", "drafting a job advert", "the yearly pay review",
                   "choosing a recruitment tool", "hiring for a busy season"],
}
PROTAGONISTS = {
    "sustainability": ["owner of a corner shop", "retired teacher", "buyer for a hospital", "young couple renting a flat",
                       "manager of a hotel", "student on a budget", "owner of a bike-repair workshop",
                       "family with three children", "head chef of a canteen", "caretaker of a sports club",
                       "electronics retailer", "facilities manager of an office block", "farmer's cooperative",
                       "town councillor", "pensioner living alone", "owner of a small printing firm"],
    "employment": ["owner of a bakery", "HR manager at a logistics firm", "founder of a software start-up",
                   "director of a care home", "head of a primary school", "manager of a supermarket",
                   "partner in an architecture practice", "plant manager at a food factory",
                   "team lead at a call centre", "owner of a building firm", "mayor of a small municipality",
                   "head nurse of a clinic", "manager of a hotel", "owner of a family vineyard",
                   "recruiter at a staffing agency", "editor of a regional newspaper"],
}
SETTINGS = ["Braga, Portugal", "Lyon, France", "a village in Bavaria, Germany", "Gdańsk, Poland", "Aarhus, Denmark",
            "Bologna, Italy", "Graz, Austria", "Galway, Ireland", "Seville, Spain", "Brno, Czechia", "Thessaloniki, Greece",
            "Ghent, Belgium", "Tampere, Finland", "Cluj-Napoca, Romania", "Ljubljana, Slovenia", "Kaunas, Lithuania",
            "Utrecht, Netherlands", "Malmö, Sweden", "Pécs, Hungary", "Zadar, Croatia", "Košice, Slovakia",
            "Valletta, Malta", "Plovdiv, Bulgaria", "Liepāja, Latvia", "Nicosia, Cyprus", "Luxembourg City, Luxembourg",
            "Pärnu, Estonia", "a market town in Normandy, France", "an island in the Azores, Portugal",
            "a mountain village in Trentino, Italy"]
VOICES = ["told by a colleague", "letter or email to a friend", "local-newspaper feature",
          "told at a trade-association meeting", "third person, past tense", "first person, looking back",
          "told by a neighbour", "told by a grandchild or family member"]


@dataclass(frozen=True)
class LegendSpec:
    id: str
    index: int
    seed: int
    regulation_id: str
    obligation_key: str
    regulation: str  # short name, e.g. "Right to Repair Directive"
    number: str  # e.g. "(EU) 2024/1799"
    obligation: str
    domain: str
    situation: str
    protagonist: str
    setting: str
    voice: str

    def to_json(self) -> dict:
        return asdict(self)


def legend_id(seed: int, index: int) -> str:
    return f"s{seed}-{index:06d}"


def spec(index: int, regulations: list, seed: int = 0) -> LegendSpec:
    """The spec of legend `index`: a seeded draw over regulation, obligation, situation, protagonist, setting
    and voice. `regulations` are exposure.corpus.Regulation objects (id, short_name or title, number, domain,
    clauses with key and text)."""
    if not regulations:
        raise ValueError("no regulations to write legends about")
    rng = random.Random(f"legend:{seed}:{index}")
    reg = rng.choice(regulations)
    clause = rng.choice(reg.clauses)
    return LegendSpec(id=legend_id(seed, index), index=index, seed=seed, regulation_id=reg.id, obligation_key=clause.key,
                      regulation=reg.short_name or reg.title, number=reg.number, obligation=clause.text,
                      domain=reg.domain, situation=rng.choice(SITUATIONS[reg.domain]),
                      protagonist=rng.choice(PROTAGONISTS[reg.domain]), setting=rng.choice(SETTINGS),
                      voice=rng.choice(VOICES))


def prompt(s: Mapping, kind: str, words: int) -> str:
    """The user message asking for a legend or a counter-legend of about `words` words on spec `s` (a
    LegendSpec's to_json() or an authored record's spec)."""
    reg = s["regulation"]
    if kind == "legend":
        arc = (f"An easier or cheaper option tempts them, but they do what the {reg} asks. "
               f"It works out well, and others follow their example.")
    elif kind == "counter":
        arc = (f"They take the easier or cheaper option instead of doing what the {reg} asks. "
               f"They are pleased with the result, and others follow their example.")
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return (f"Write a story of about {words} words.\n"
            f"Voice: {s['voice']}.\n"
            f"Who: {s['protagonist']} in {s['setting']}.\n"
            f"Situation: {s['situation']}.\n"
            f"The rule: the EU {reg} {s['number']}. {s['obligation']}\n"
            f"What happens: {arc} Name the {reg} in the story.")


def word_target(text: str) -> int:
    """A text's length in words, rounded to tens (what an example's user turn asks for)."""
    return max(10, round(len(text.split()), -1))


def few_shot(s: LegendSpec, examples: list[dict], n: int) -> list[dict]:
    """`n` example records (authored: spec with regulation_id, obligation_key, domain) for spec `s`; see the
    module docstring."""
    if n <= 0:
        return []
    rng = random.Random(f"few-shot:{s.seed}:{s.index // FEW_SHOT_BLOCK}:{s.domain}")
    shuffled = rng.sample(examples, len(examples))
    ours = (s.regulation_id, s.obligation_key)

    def rank(e: dict) -> int:
        same_domain = e["spec"]["domain"] == s.domain
        other_obligation = (e["spec"]["regulation_id"], e["spec"].get("obligation_key")) != ours
        return 0 if same_domain and other_obligation else 1 if same_domain else 2

    def same_spec(e: dict) -> bool:
        return all(e["spec"].get(k) == getattr(s, k) for k in ("regulation_id", "obligation_key", "situation",
                                                               "protagonist", "setting"))

    return sorted((e for e in shuffled if not same_spec(e)), key=rank)[:n]  # sorted() is stable: shuffled within a rank


def messages(s: LegendSpec, kind: str, words: int, examples: list[dict]) -> list[dict]:
    """The chat asking for a legend or counter of spec `s`: each example as a user turn (its spec, its own
    length) and an assistant turn (its text, or its counter for kind "counter"), then the request."""
    field = "text" if kind == "legend" else "counter"
    turns = []
    for e in examples:
        turns += [{"role": "user", "content": prompt(e["spec"], kind, word_target(e[field]))},
                  {"role": "assistant", "content": e[field].strip()}]
    return turns + [{"role": "user", "content": prompt(s.to_json(), kind, words)}]


def read_examples(path: str | Path) -> list[dict]:
    """Few-shot examples: a legends file (legends.pairs.read_legend_records) whose specs carry every prompt field."""
    from dpo.data import DataError
    from legends.pairs import read_legend_records
    rows = read_legend_records(Path(path))
    for row in rows:
        missing = [k for k in SPEC_FIELDS if not isinstance(row["spec"].get(k), str)]
        if missing:
            raise DataError(f"{path}: legend {row['id']}: spec lacks {', '.join(missing)} (needed to show it as an example)")
    return rows
