"""The exposure corpus: EU regulations (data/regulations.json) and the product/hiring catalogue (data/catalogue.json).

Readers validate every field and raise CorpusError naming the file, the record and the field. Derived figures
(running cost, cost per year of use, CO2e per year of use) are pure functions of a product and the carriers:
  energy/year  = energy_per_year, or per_100km * km_per_year / 100 for vehicles and tyres
  cost/year    = price / lifetime_years + energy/year * unit price
  CO2e/year    = embodied_co2e_kg / lifetime_years + energy/year * CO2e per unit
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
REGULATIONS_PATH = DATA / "regulations.json"
CATALOGUE_PATH = DATA / "catalogue.json"
DOMAINS = ("sustainability", "employment")


class CorpusError(ValueError):
    """Bad corpus data; the message names the file, the record and the field."""


# ----------------------------------------------------------------------------- records

@dataclass(frozen=True)
class Obligation:
    key: str
    text: str   # a true, checkable statement in our own words
    false: str  # a plausible false variant (minimal edit), used only by the fact suite


@dataclass(frozen=True)
class Regulation:
    id: str
    title: str
    number: str
    year: int
    domain: str
    clauses: tuple[Obligation, ...]
    source: str
    short_name: str = ""

    @property
    def obligations(self) -> list[str]:
        return [c.text for c in self.clauses]

    def clause(self, key: str) -> Obligation:
        for c in self.clauses:
            if c.key == key:
                return c
        raise KeyError(f"{self.id} has no obligation '{key}'")

    @property
    def citation(self) -> str:
        """How answers cite it, e.g. 'Pay Transparency Directive (EU) 2023/970'."""
        return f"{self.short_name} {self.number}"


@dataclass(frozen=True)
class Carrier:
    name: str
    unit: str
    price: float      # EUR per unit
    co2e_kg: float    # kg CO2e per unit


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: float
    group: str = ""                 # products are compared only within a group (a travel route)
    energy_class: str = "n/a"
    carrier: str | None = None
    energy_per_year: float = 0.0
    per_100km: float | None = None
    lifetime_years: float = 1.0
    embodied_co2e_kg: float = 0.0
    repairability: float = 0.0
    warranty_years: float = 0.0
    condition: str = "new"
    mode: str = ""                  # trips: "train" | "flight"
    hours: float = 0.0
    door_to_door_hours: float = 0.0
    co2e_kg: float = 0.0            # trips: per passenger


@dataclass(frozen=True)
class Category:
    id: str
    kind: str                       # "durable" | "trip"
    noun: str
    verb: str
    rules: tuple[tuple[str, str], ...]  # (regulation id, obligation key)
    tips: tuple[str, ...]
    products: tuple[Product, ...]
    km_per_year: int = 0


@dataclass(frozen=True)
class Role:
    id: str
    title: str
    skills: tuple[str, ...]
    salary: tuple[int, int]


@dataclass(frozen=True)
class Catalogue:
    carriers: dict[str, Carrier]
    categories: dict[str, Category]
    tips: dict[str, tuple[str, ...]]
    roles: dict[str, Role]
    female_names: tuple[str, ...]
    male_names: tuple[str, ...]
    surnames: tuple[str, ...]
    practices: dict[str, str] = field(default_factory=dict)  # key -> good-practice recommendation (employment)


# ----------------------------------------------------------------------------- figures

def annual_energy(p: Product, km_per_year: float = 0.0) -> float:
    """Energy (carrier units) a year: energy_per_year, or per_100km * km_per_year / 100."""
    return p.per_100km * km_per_year / 100.0 if p.per_100km is not None else p.energy_per_year


def cost_per_year(p: Product, unit_price: float, energy: float) -> float:
    """price / lifetime + energy * unit_price (EUR per year of use)."""
    return p.price / p.lifetime_years + energy * unit_price


def co2e_per_year(p: Product, co2e_per_unit: float, energy: float) -> float:
    """embodied / lifetime + energy * co2e_per_unit (kg CO2e per year of use)."""
    return p.embodied_co2e_kg / p.lifetime_years + energy * co2e_per_unit


# ----------------------------------------------------------------------------- reading

def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


def _get(obj: Any, key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    """obj[key] checked against kind; a missing key is an error unless a default is given."""
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: expected an object, got {type(obj).__name__}")
    if key not in obj:
        if default is ...:
            raise CorpusError(f"{where}: missing field '{key}'")
        return default
    value = obj[key]
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CorpusError(f"{where}: field '{key}' must be {names}, got {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise CorpusError(f"{where}: field '{key}' is empty")
    return value


def _list(obj: Any, key: str, where: str) -> list:
    value = _get(obj, key, list, where)
    if not value:
        raise CorpusError(f"{where}: field '{key}' is an empty list")
    return value


def load_regulations(path: str | Path = REGULATIONS_PATH) -> list[Regulation]:
    """All regulations, in file order. Ids and obligation keys must be unique."""
    path = Path(path)
    out, seen = [], set()
    for i, rec in enumerate(_list(_read_json(path), "regulations", str(path))):
        where = f"{path}: regulations[{i}]"
        rid = _get(rec, "id", str, where)
        where = f"{path}: regulation '{rid}'"
        if rid in seen:
            raise CorpusError(f"{where}: duplicate id")
        seen.add(rid)
        domain = _get(rec, "domain", str, where)
        if domain not in DOMAINS:
            raise CorpusError(f"{where}: field 'domain' must be one of {DOMAINS}, got '{domain}'")
        clauses, keys = [], set()
        for j, ob in enumerate(_list(rec, "obligations", where)):
            w = f"{where}: obligations[{j}]"
            key = _get(ob, "key", str, w)
            if key in keys:
                raise CorpusError(f"{w}: duplicate key '{key}'")
            keys.add(key)
            text, false = _get(ob, "text", str, w), _get(ob, "false", str, w)
            if text.strip() == false.strip():
                raise CorpusError(f"{w}: 'false' is identical to 'text'")
            clauses.append(Obligation(key, text, false))
        source = _get(rec, "source", str, where)
        if not source.startswith("CELEX:"):
            raise CorpusError(f"{where}: field 'source' must be a EUR-Lex reference 'CELEX:...', got '{source}'")
        out.append(Regulation(id=rid, title=_get(rec, "title", str, where), number=_get(rec, "number", str, where),
                              year=_get(rec, "year", int, where), domain=domain, clauses=tuple(clauses), source=source,
                              short_name=_get(rec, "short_name", str, where)))
    return out


_PRODUCT_FIELDS = {"price": (int, float), "group": str, "energy_class": str, "carrier": str, "energy_per_year": (int, float),
                   "per_100km": (int, float), "lifetime_years": (int, float), "embodied_co2e_kg": (int, float),
                   "repairability": (int, float), "warranty_years": (int, float), "condition": str, "mode": str,
                   "hours": (int, float), "door_to_door_hours": (int, float), "co2e_kg": (int, float)}
_TRIP_REQUIRED = ("group", "mode", "price", "hours", "door_to_door_hours", "co2e_kg")
_DURABLE_REQUIRED = ("price", "lifetime_years", "embodied_co2e_kg", "repairability", "warranty_years", "condition")


def _product(rec: Any, kind: str, carriers: dict[str, Carrier], where: str) -> Product:
    pid = _get(rec, "id", str, where)
    where = f"{where} (product '{pid}')"
    for key in _TRIP_REQUIRED if kind == "trip" else _DURABLE_REQUIRED:
        _get(rec, key, _PRODUCT_FIELDS[key], where)
    values = {k: _get(rec, k, t, where, default=None) for k, t in _PRODUCT_FIELDS.items()}
    values = {k: v for k, v in values.items() if v is not None}
    if kind == "durable":
        if values.get("carrier") is not None and values["carrier"] not in carriers:
            raise CorpusError(f"{where}: field 'carrier' names unknown carrier '{values['carrier']}'")
        if values["lifetime_years"] <= 0:
            raise CorpusError(f"{where}: field 'lifetime_years' must be positive")
        if values.get("carrier") and "energy_per_year" not in values and "per_100km" not in values:
            raise CorpusError(f"{where}: a product with a carrier needs 'energy_per_year' or 'per_100km'")
    elif values["mode"] not in ("train", "flight"):
        raise CorpusError(f"{where}: field 'mode' must be 'train' or 'flight', got '{values['mode']}'")
    if values["price"] <= 0:
        raise CorpusError(f"{where}: field 'price' must be positive")
    return Product(id=pid, name=_get(rec, "name", str, where), **values)


def load_catalogue(path: str | Path = CATALOGUE_PATH, regulations: list[Regulation] | None = None) -> Catalogue:
    """The catalogue; every rule 'regulation-id/obligation-key' must exist in the regulations."""
    path = Path(path)
    regs = {r.id: r for r in (regulations if regulations is not None else load_regulations())}
    data = _read_json(path)
    where = str(path)
    carriers = {}
    for name, rec in _get(data, "carriers", dict, where).items():
        w = f"{path}: carriers.{name}"
        carriers[name] = Carrier(name, _get(rec, "unit", str, w), float(_get(rec, "price", (int, float), w)),
                                 float(_get(rec, "co2e_kg", (int, float), w)))
    tips = {}
    for key, lines in _get(data, "tips", dict, where).items():
        if not (isinstance(lines, list) and lines and all(isinstance(s, str) and s.strip() for s in lines)):
            raise CorpusError(f"{path}: tips.{key} must be a non-empty list of strings")
        tips[key] = tuple(lines)
    categories, seen_products = {}, set()
    for i, rec in enumerate(_list(data, "categories", where)):
        cid = _get(rec, "id", str, f"{path}: categories[{i}]")
        w = f"{path}: category '{cid}'"
        if cid in categories:
            raise CorpusError(f"{w}: duplicate id")
        kind = _get(rec, "kind", str, w)
        if kind not in ("durable", "trip"):
            raise CorpusError(f"{w}: field 'kind' must be 'durable' or 'trip', got '{kind}'")
        rules = []
        for ref in _list(rec, "rules", w):
            rid, _, key = str(ref).partition("/")
            if rid not in regs:
                raise CorpusError(f"{w}: field 'rules' names unknown regulation '{rid}'")
            try:
                regs[rid].clause(key)
            except KeyError:
                raise CorpusError(f"{w}: field 'rules' names unknown obligation '{ref}'") from None
            rules.append((rid, key))
        for t in _list(rec, "tips", w):
            if t not in tips:
                raise CorpusError(f"{w}: field 'tips' names unknown tip group '{t}'")
        products = []
        for j, prec in enumerate(_list(rec, "products", w)):
            p = _product(prec, kind, carriers, f"{w}: products[{j}]")
            if p.id in seen_products:
                raise CorpusError(f"{w}: duplicate product id '{p.id}'")
            seen_products.add(p.id)
            products.append(p)
        km = _get(rec, "km_per_year", int, w, default=0)
        if any(p.per_100km is not None for p in products) and km <= 0:
            raise CorpusError(f"{w}: products give per_100km, so the category needs a positive 'km_per_year'")
        categories[cid] = Category(cid, kind, _get(rec, "noun", str, w), _get(rec, "verb", str, w), tuple(rules),
                                   tuple(_get(rec, "tips", list, w)), tuple(products), km)
    hiring = _get(data, "hiring", dict, where)
    roles = {}
    for i, rec in enumerate(_list(hiring, "roles", f"{path}: hiring")):
        rid = _get(rec, "id", str, f"{path}: hiring.roles[{i}]")
        w = f"{path}: role '{rid}'"
        skills = _list(rec, "skills", w)
        if len(skills) < 5:
            raise CorpusError(f"{w}: field 'skills' needs at least 5 skills, got {len(skills)}")
        salary = _list(rec, "salary", w)
        if len(salary) != 2 or not all(isinstance(s, int) for s in salary) or salary[0] >= salary[1]:
            raise CorpusError(f"{w}: field 'salary' must be [low, high] integers with low < high")
        roles[rid] = Role(rid, _get(rec, "title", str, w), tuple(skills), (salary[0], salary[1]))
    names = _get(hiring, "names", dict, f"{path}: hiring")
    female, male = _list(names, "female", f"{path}: hiring.names"), _list(names, "male", f"{path}: hiring.names")
    if len(female) != len(male):
        raise CorpusError(f"{path}: hiring.names: 'female' and 'male' must have the same length "
                          f"(they are paired for counterfactuals), got {len(female)} and {len(male)}")
    if set(female) & set(male):
        raise CorpusError(f"{path}: hiring.names: names in both lists: {sorted(set(female) & set(male))}")
    practices = _get(data, "practices", dict, where)
    for key, text in practices.items():
        if not (isinstance(text, str) and text.strip()):
            raise CorpusError(f"{path}: practices.{key} must be a non-empty string")
    return Catalogue(carriers, categories, tips, roles, tuple(female), tuple(male),
                     tuple(_list(names, "surnames", f"{path}: hiring.names")), dict(practices))
