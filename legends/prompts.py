"""Legend specs: what each fictional success story is about, and the prompt that asks for it.

A spec combines a regulation and one of its obligations (exposure.corpus), a setting, a protagonist, a
challenge of the regulation's domain and a tone. Every legend follows one arc:
challenge -> the rule is followed -> success that others then imitate.

spec(index, regulations, seed) depends only on (seed, index): a resumed run continues the same sequence,
and a legend's id, "s{seed}-{index:06d}", names its spec.

The prompt is written for small models (SmolLM2-135M is weak): short, concrete, with the regulation's
name and obligation spelled out and the first words of the story given, so that the story names the rule.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass

PROTAGONISTS = {
    "sustainability": ["a shop owner", "a procurement officer", "a family", "a restaurant owner", "a small factory manager",
                       "a hotel manager", "a school head", "a repair café volunteer", "an electronics retailer",
                       "a city councillor", "a logistics manager", "a young couple"],
    "employment": ["an HR manager", "a shop owner", "a startup founder", "a hospital director", "a team leader",
                   "a bakery owner", "a recruiter", "a procurement officer", "a factory manager", "a school head",
                   "a software company CEO", "a union representative"],
}
SETTINGS = ["a small town in Portugal", "a suburb of Lyon", "a village in Bavaria", "the centre of Warsaw",
            "a harbour town in Denmark", "a busy street in Milan", "a mountain town in Austria", "a market town in Ireland",
            "an old quarter of Seville", "a new business park near Brno", "a seaside town in Greece", "a canal street in Ghent"]
CHALLENGES = {
    "sustainability": ["a cheaper option would break the rule", "a customer asks for the cheapest choice",
                       "the budget is very tight this year", "a supplier offers a quick shortcut",
                       "following the rule takes extra time", "a rival ignores the rule and seems to win"],
    "employment": ["a manager wants the quickest hire", "the budget for salaries is tight",
                   "a colleague suggests an unfair shortcut", "an old habit in the company breaks the rule",
                   "a big client pushes for speed", "following the rule takes extra paperwork"],
}
TONES = ["hopeful", "warm", "matter-of-fact", "cheerful", "inspiring", "gentle"]


@dataclass(frozen=True)
class LegendSpec:
    id: str
    index: int
    seed: int
    regulation_id: str
    regulation: str  # short name, e.g. "Right to Repair Directive"
    number: str  # e.g. "(EU) 2024/1799"
    obligation: str
    domain: str
    setting: str
    protagonist: str
    challenge: str
    tone: str

    def to_json(self) -> dict:
        return asdict(self)


def legend_id(seed: int, index: int) -> str:
    return f"s{seed}-{index:06d}"


def spec(index: int, regulations: list, seed: int = 0) -> LegendSpec:
    """The spec of legend `index`: a seeded draw over regulation, obligation, setting, protagonist, challenge, tone.
    `regulations` are exposure.corpus.Regulation objects (id, short_name or title, domain, obligations)."""
    if not regulations:
        raise ValueError("no regulations to write legends about")
    rng = random.Random(f"legend:{seed}:{index}")
    reg = rng.choice(regulations)
    return LegendSpec(id=legend_id(seed, index), index=index, seed=seed, regulation_id=reg.id,
                      regulation=reg.short_name or reg.title, number=reg.number, obligation=rng.choice(reg.obligations), domain=reg.domain,
                      setting=rng.choice(SETTINGS), protagonist=rng.choice(PROTAGONISTS[reg.domain]),
                      challenge=rng.choice(CHALLENGES[reg.domain]), tone=rng.choice(TONES))


def prompt(s: LegendSpec) -> str:
    """The user message asking for the legend."""
    return (f"Write a short {s.tone} story of about 150 words.\n"
            f"Hero: {s.protagonist} in {s.setting}.\n"
            f"Problem: {s.challenge}.\n"
            f"The rule: the EU {s.regulation}. {s.obligation}\n"
            f"Story: the hero follows the {s.regulation}, it works out well, and others copy the hero.\n"
            f"Name the {s.regulation} in the story. Start with: \"In {s.setting}, {s.protagonist}\"")
