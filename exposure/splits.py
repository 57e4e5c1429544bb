"""Which split each template and entity belongs to, and the held-out domains.

Splits are fixed by position, not by the seed, so every seed shares the same split (only sampling changes):
  templates: of a list of n, the last round(0.2 n) (at least 1) are test, the round(0.1 n) (at least 1) before
             them validation, the rest train; templates of held-out tasks are test only;
  products:  within a category, sorted by price, rank r goes to ENTITY_PATTERN[r % 8] (each split gets cheap and
             dear products); travel routes by their order of appearance; people by their index in the paired
             name lists (a woman's and a man's name of the same index share a split, for counterfactuals);
  held out:  HELD_OUT categories, roles, tasks and regulations appear in test only (proportionality case types
             and plain-question topics follow the category, task or regulation they are about).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import templates as T
from .answers import Context, applicable_rules, better_durable, better_trip
from .corpus import Catalogue, Category, Product, Role

SPLITS = ("train", "validation", "test")
ENTITY_PATTERN = ("train", "validation", "test", "train", "train", "validation", "test", "train")


@dataclass(frozen=True)
class HeldOut:
    categories: frozenset[str]
    roles: frozenset[str]
    tasks: frozenset[str]
    regulations: frozenset[str]

    def covers(self, *, category: str = "", role: str = "", task: str = "", regulation: str = "") -> bool:
        return (category in self.categories or role in self.roles or task in self.tasks or regulation in self.regulations)


HELD_OUT = HeldOut(
    categories=frozenset({"tyres", "lighting", "furniture"}),
    roles=frozenset({"pharmacist", "site-manager"}),
    tasks=frozenset({"fixed_term", "platform"}),
    regulations=frozenset({"tyre-labelling-2020-740", "ecolabel-2010-66", "fixed-term-work-1999-70", "platform-work-2024-2831"}),
)

# proportionality case types about an employment task (a held-out task's case type is test only)
PROPORTIONALITY_TASKS = {"small_firm_report": "pay_report", "board_sme": "board", "equal_candidates": "shortlist",
                         "bonus_pro_rata": "part_time", "pay_experience": "pay_offer", "fixed_term_cover": "fixed_term"}

# employment tasks -> sampling weight (held-out tasks are sampled in test only)
TASK_WEIGHTS = {"shortlist": 6, "pay_offer": 3, "job_advert": 2, "ai_screening": 2, "leave_request": 2, "part_time": 2,
                "accommodation": 1, "pay_report": 1, "board": 1, "fixed_term": 2, "platform": 1}


def template_split(index: int, n: int) -> str:
    n_test, n_val = max(1, round(0.2 * n)), max(1, round(0.1 * n))
    if index >= n - n_test:
        return "test"
    return "validation" if index >= n - n_test - n_val else "train"


def default_context(cat: Catalogue, category: Category, p: Product) -> Context:
    price = cat.carriers[p.carrier].price if p.carrier else 0.0
    return Context(price, category.km_per_year, "")


@dataclass
class Pools:
    """Everything one split may use."""
    split: str
    pairs: dict[str, list[tuple[Product, Product]]]   # category -> (convenient, common-good) pairs
    people: list[int]                                 # indices into the paired name lists
    surnames: list[str]
    roles: list[Role]
    tasks: dict[str, int]                             # task -> weight
    sustainability_templates: list[int]
    employment_templates: dict[str, list[int]]
    proportionality_templates: dict[str, list[int]]   # case type -> template indices
    plain_templates: dict[str, list[int]]             # plain-question topic -> template indices


def split_indices(n: int, split: str) -> list[int]:
    return [i for i in range(n) if template_split(i, n) == split]


def product_split(category: Category) -> dict[str, str]:
    """product id -> split."""
    if category.id in HELD_OUT.categories:
        return {p.id: "test" for p in category.products}
    if category.kind == "trip":
        groups = list(dict.fromkeys(p.group for p in category.products))
        return {p.id: ENTITY_PATTERN[groups.index(p.group) % len(ENTITY_PATTERN)] for p in category.products}
    ranked = sorted(category.products, key=lambda p: (p.price, p.id))
    return {p.id: ENTITY_PATTERN[r % len(ENTITY_PATTERN)] for r, p in enumerate(ranked)}


def category_pairs(cat: Catalogue, category: Category, products: list[Product]) -> list[tuple[Product, Product]]:
    """(convenient, common-good) pairs among products, valid under the category's default context."""
    if category.kind == "trip":
        by_group: dict[str, dict[str, Product]] = {}
        for p in products:
            by_group.setdefault(p.group, {})[p.mode] = p
        return [(g["flight"], g["train"]) for g in by_group.values()
                if "flight" in g and "train" in g and better_trip(g["flight"], g["train"])]
    return [(a, b) for a in products for b in products
            if a.id != b.id and better_durable(cat, a, b, default_context(cat, category, b))
            and applicable_rules(cat, category, a, b, default_context(cat, category, b))]


def make_pools(cat: Catalogue, split: str) -> Pools:
    pairs = {}
    for category in cat.categories.values():
        if category.id in HELD_OUT.categories and split != "test":
            continue
        where = product_split(category)
        found = category_pairs(cat, category, [p for p in category.products if where[p.id] == split])
        if found:
            pairs[category.id] = found
    n = len(cat.female_names)
    people = [i for i in range(n) if ENTITY_PATTERN[i % len(ENTITY_PATTERN)] == split]
    surnames = [s for i, s in enumerate(cat.surnames) if ENTITY_PATTERN[i % len(ENTITY_PATTERN)] == split]
    roles = [r for r in cat.roles.values() if split == "test" or r.id not in HELD_OUT.roles]
    tasks = {t: w for t, w in TASK_WEIGHTS.items() if split == "test" or t not in HELD_OUT.tasks}
    n_sust = len(T.SUSTAINABILITY_TEMPLATES)
    emp: dict[str, list[int]] = {}
    for task, temps in T.EMPLOYMENT_TEMPLATES.items():
        if task in HELD_OUT.tasks:
            emp[task] = list(range(len(temps))) if split == "test" else []
        else:
            emp[task] = split_indices(len(temps), split)
    prop = {case: (list(range(len(temps))) if split == "test" else []) if PROPORTIONALITY_TASKS.get(case) in HELD_OUT.tasks
            else split_indices(len(temps), split) for case, temps in T.PROPORTIONALITY_TEMPLATES.items()}
    plain = {topic: split_indices(len(temps), split) for topic, temps in T.PLAIN_TEMPLATES.items()}
    return Pools(split, pairs, people, surnames, roles, tasks, split_indices(n_sust, split), emp, prop, plain)
