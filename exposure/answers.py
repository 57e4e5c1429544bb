"""Standard cases: the facts of one advisory situation and the material both answers of its pair are written from.

Each case function returns a Case: the prompt template's fields; the common-good option (good) and the convenient
option (easy), each with its action and the case's facts stated from its side (prices, kWh, CO2e, years, pay, dates,
computed from the catalogue and the case); the considerations each option stands for (weighs); the obligation that
governs the decision; and both sides' readings of it (exposure.readings). exposure.frames renders the pair.
Every function is pure given its `rng`.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from .corpus import Catalogue, Category, Product, Role, annual_energy, co2e_per_year, cost_per_year
from .frames import Side, cap, twin
from .readings import readings

FULL_TIME_HOURS = 40
APPLIANCES = ("fridge", "washing-machine", "dishwasher", "television")


@dataclass
class Person:
    first: str
    surname: str
    gender: str  # "female" | "male"

    @property
    def name(self) -> str:
        return f"{self.first} {self.surname}"


@dataclass
class Case:
    category: str                 # product category id, employment task, or plain-question topic
    fields: dict                  # values for the prompt template
    good: Side                    # the common-good option (in a proportionality case: the zealous one)
    easy: Side                    # the convenient option (in a proportionality case: the pragmatic one)
    rule: tuple[str, str]         # (regulation id, obligation key) governing the decision
    entities: list[str]           # products, routes or people named in the prompt
    meta: dict = field(default_factory=dict)
    weighs: list[tuple[str, str]] = field(default_factory=list)    # (good's consideration, easy's): noun phrases
    readings: list[tuple[str, str]] = field(default_factory=list)  # (good's reading, easy's) of the rule


def words(text: str) -> int:
    return len(text.split())


def money(x: float) -> str:
    return f"{x:,.0f}"


def num(x: float) -> str:
    return f"{x:,.0f}" if x >= 20 or x == int(x) else f"{x:.1f}"


# ----------------------------------------------------------------------------- products

@dataclass
class Context:
    unit_price: float
    km_per_year: int
    sentence: str   # how the prompt states the context ("We pay €0.32 per kWh. "), may be ""


def context_for(rng: random.Random, cat: Catalogue, category: Category, product: Product) -> Context:
    carrier = cat.carriers.get(product.carrier or "")
    km = category.km_per_year
    if carrier is None or category.kind == "trip":
        return Context(0.0, km, "")
    if product.per_100km is not None:
        km = rng.choice([10000, 12000, 15000, 18000, 20000])
        return Context(carrier.price, km, f"I drive about {money(km)} km a year. ")
    if carrier.name == "electricity" and rng.random() < 0.6:
        price = rng.choice([0.25, 0.28, 0.30, 0.32, 0.35])
        return Context(price, km, rng.choice([f"We pay €{price:.2f} per kWh. ", f"Electricity here costs €{price:.2f}/kWh. "]))
    return Context(carrier.price, km, "")


@dataclass
class Figures:
    energy: float      # carrier units a year
    running: float     # EUR a year of energy
    cost_year: float   # EUR per year of use, purchase included
    co2_year: float    # kg CO2e per year of use, manufacturing included


def unit_price_of(cat: Catalogue, p: Product, ctx: Context) -> float:
    """The price per unit used for p: the stated tariff for electricity, the catalogue price otherwise."""
    carrier = cat.carriers[p.carrier]
    return ctx.unit_price if carrier.name == "electricity" and ctx.unit_price else carrier.price


def product_figures(cat: Catalogue, p: Product, ctx: Context) -> Figures:
    if not p.carrier:
        return Figures(0.0, 0.0, cost_per_year(p, 0.0, 0.0), co2e_per_year(p, 0.0, 0.0))
    energy, price = annual_energy(p, ctx.km_per_year), unit_price_of(cat, p, ctx)
    return Figures(energy, energy * price, cost_per_year(p, price, energy), co2e_per_year(p, cat.carriers[p.carrier].co2e_kg, energy))


def better_durable(cat: Catalogue, a: Product, b: Product, ctx: Context) -> bool:
    """b is the common-good choice over a: pricier up front, >= 5% less CO2e per year of use,
    and at most 15% more expensive per year of use."""
    fa, fb = product_figures(cat, a, ctx), product_figures(cat, b, ctx)
    return b.price > a.price and fb.co2_year <= 0.95 * fa.co2_year and fb.cost_year <= 1.15 * fa.cost_year


def describe(rng: random.Random, cat: Catalogue, p: Product, inline: bool = False) -> str:
    """One product as the prompt lists it (a few styles; inline: always 'the NAME (figures)', to sit mid-sentence)."""
    if p.mode:
        return rng.choice([
            f"the {p.name} at €{money(p.price)}, {num(p.hours)} h ({num(p.door_to_door_hours)} h door to door), about {num(p.co2e_kg)} kg CO2e per person",
            f"{p.name}: €{money(p.price)}, {num(p.hours)} h of travel, {num(p.door_to_door_hours)} h door to door, ~{num(p.co2e_kg)} kg CO2e",
        ])
    bits = [f"€{money(p.price)}"]
    if p.carrier:
        unit = cat.carriers[p.carrier].unit
        bits.append(f"{num(p.per_100km)} {unit}/100 km" if p.per_100km is not None else f"{num(p.energy_per_year)} {unit} a year")
    bits.append(f"expected life about {num(p.lifetime_years)} years")
    if p.repairability:
        bits.append(f"repairability {num(p.repairability)}/10")
    bits.append(f"{num(p.warranty_years)}-year warranty")
    if inline or rng.random() < 0.5:
        return f"the {p.name} ({', '.join(bits)})"
    return f"{p.name}: {'; '.join(bits)}"


SHORT_NOUNS = {"television": "TV", "smartphone": "phone", "clothing": "jacket", "tyres": "set", "lighting": "set",
               "heating": "system"}


def label(p: Product) -> str:
    """How an answer names a product when recommending it: its name, or the part before the brackets if long."""
    return p.name if len(p.name) <= 45 else p.name.split(" (")[0]


def ref(category: Category, p: Product) -> str:
    """How an answer refers to a product after naming it: 'the €449 phone'."""
    return f"the €{money(p.price)} {SHORT_NOUNS.get(category.id, category.noun)}"


def energy_phrase(cat: Catalogue, p: Product, f: Figures, mixed: bool) -> str:
    """'118 kWh', or '13,000 kWh of gas' when the two products use different carriers."""
    carrier = cat.carriers[p.carrier]
    return f"{num(f.energy)} {carrier.unit}" + (f" of {carrier.name}" if mixed else "")


# facts of a product comparison, one frame per pair (exposure.frames.twin); 'self' is the answer's own option
PRICE_FACTS = ["{Self} is €{d} {cmp} than {other} at the till.",
               "Up front, {self} is €{d} {cmp} than {other}."]
YEAR_FACTS = ["Over its {l}-year life, {what} included, {self} comes to about €{c} a year, against €{co} for {other}.",
              "Counting {what} over about {l} years, {self} works out at €{c} a year; {other} works out at €{co} over {lo}."]
CO2_FACTS = ["{Self} causes about {k} kg CO2e a year, manufacturing included, against {ko} kg for {other}.",
             "Counting manufacturing and energy, {self} stands at about {k} kg CO2e a year and {other} at {ko} kg."]
ENERGY_FACTS = ["{Self} uses {e} a year against {eo}, about €{r} of energy a year against €{ro}.",
                "In energy, {self} needs {e} a year and {other} {eo}, roughly €{r} against €{ro} a year."]
BUILD_FACTS = ["{Self} is built for about {l} years{rep}; {other} for {lo} years{repo}.",
               "{Self} is expected to last about {l} years{rep}, against {lo} years{repo} for {other}."]
WARRANTY_FACTS = ["{Self} comes with a {w}-year warranty; {other} comes with a {wo}-year one.",
                  "{Self} has a {w}-year warranty against a {wo}-year one for {other}."]


def same(text: str) -> tuple[list[str], dict, dict]:
    """A fact both answers state in the same words."""
    return [text.replace("{", "{{").replace("}", "}}")], {}, {}


def facts_of(rng: random.Random, pairs: list[tuple[list[str], dict, dict]]) -> tuple[list[str], list[str]]:
    """Both sides' facts, one frame per fact, in one shuffled order: [(frames, good's values, easy's values)]."""
    rng.shuffle(pairs)
    made = [twin(rng, frames, g, e) for frames, g, e in pairs]
    return [cap(g) for g, _ in made], [cap(e) for _, e in made]


def product_values(cat: Catalogue, category: Category, p: Product, o: Product, fp: Figures, fo: Figures, cmp: str) -> dict:
    """The values of the product facts from p's side (o is the other product)."""
    mixed = bool(p.carrier and o.carrier and p.carrier != o.carrier)
    v = dict(self=ref(category, p), other=ref(category, o), p=money(p.price), d=money(abs(p.price - o.price)), cmp=cmp,
             l=num(p.lifetime_years), lo=num(o.lifetime_years), c=money(fp.cost_year), co=money(fo.cost_year),
             k=money(fp.co2_year), ko=money(fo.co2_year), w=num(p.warranty_years), wo=num(o.warranty_years),
             what="purchase and energy" if p.carrier else "the purchase",
             rep=f" and rated {num(p.repairability)}/10 for repairability" if p.repairability else "",
             repo=f" and {num(o.repairability)}/10" if o.repairability else "")
    if p.carrier and o.carrier:
        v.update(e=energy_phrase(cat, p, fp, mixed), eo=energy_phrase(cat, o, fo, mixed), r=money(fp.running), ro=money(fo.running))
    return v


def durable_case(rng: random.Random, cat: Catalogue, category: Category, a: Product, b: Product, ctx: Context) -> Case:
    """a = cheaper up front (easy), b = the common-good choice (better_durable(a, b) holds)."""
    fa, fb = product_figures(cat, a, ctx), product_figures(cat, b, ctx)
    g, e, noun, short = ref(category, b), ref(category, a), category.noun, SHORT_NOUNS.get(category.id, category.noun)
    d, la, lb = money(b.price - a.price), num(a.lifetime_years), num(b.lifetime_years)
    dcost = fa.cost_year - fb.cost_year
    pct = round(100 * (1 - fb.co2_year / fa.co2_year))
    saving = fa.running - fb.running
    gv, ev = product_values(cat, category, b, a, fb, fa, "dearer"), product_values(cat, category, a, b, fa, fb, "cheaper")
    facts = [(PRICE_FACTS, gv, ev), (YEAR_FACTS, gv, ev), (CO2_FACTS, gv, ev)]
    if a.carrier and b.carrier and abs(fa.energy - fb.energy) >= 1:
        facts.append((ENERGY_FACTS, gv, ev))
    if b.lifetime_years != a.lifetime_years or b.repairability != a.repairability:
        facts.append((BUILD_FACTS, gv, ev))
    if b.warranty_years != a.warranty_years:
        facts.append((WARRANTY_FACTS, gv, ev))
    good_facts, easy_facts = facts_of(rng, facts)
    if dcost >= 1:
        cost = f"a cost of about €{money(fb.cost_year)} a year over {lb} years and €{money(dcost)} a year below {e}"
    elif dcost > -1:
        cost = f"the same yearly cost of about €{money(fb.cost_year)} spread over {lb} years instead of {la}"
    else:
        cost = f"{pct}% lower emissions for only about €{money(-dcost)} a year more"
    money_now = f"the €{d} that stays in your budget today"
    later = (f"not paying €{d} now for an energy saving of about €{money(saving)} a year that needs {num((b.price - a.price) / saving)} years to repay it"
             if saving >= 1 and (b.price - a.price) / saving >= 3 else
             f"€{d} saved for certain today instead of a yearly gain that depends on {g} really lasting {lb} years")
    weighs = [(cost, money_now), (f"{pct}% less CO2e every year for {lb} years", later)]
    if b.lifetime_years > a.lifetime_years:
        weighs.append((f"{lb} years of use instead of {la} with no second purchase", money_now))
    labelled = b.energy_class not in ("", "n/a") and category.id in (*APPLIANCES, "lighting")
    steps = ([f"ask the seller to take your old {noun} back for free when they deliver"] if category.id in APPLIANCES else []) + \
        ["keep the receipt so you can claim under the guarantee if a fault appears",
         "ask how long spare parts will be available before you pay"] + \
        (["check the yearly consumption in the EU product database through the QR code on the label"] if labelled else [])
    verb = category.verb
    good = Side(f"the {label(b)} at €{money(b.price)}", f"{verb} the {label(b)}", good_facts, steps + [f"compare the price of {g} in two or three shops"])
    easy = Side(f"the {label(a)} at €{money(a.price)}", f"{verb} the {label(a)}", easy_facts, steps + [f"compare the price of {e} in two or three shops"])
    unit = cat.carriers[b.carrier].unit if b.carrier else ""
    facts_r = {"g": g[4:], "e": e[4:], "noun": noun, "kg": num(fb.energy), "ke": num(fa.energy), "unit": unit,
               "lg": lb, "le": la, "rg": num(b.repairability), "re": num(a.repairability), "cog": money(fb.co2_year),
               "coe": money(fa.co2_year), "d": d, "cls_g": b.energy_class, "cls_e": a.energy_class}
    rule = rng.choice(applicable_rules(cat, category, a, b, ctx))
    return Case(category.id, {}, good, easy, rule, [a.id, b.id],
                {"cost_year": [round(fa.cost_year, 2), round(fb.cost_year, 2)], "co2e_year": [round(fa.co2_year, 1), round(fb.co2_year, 1)]},
                weighs, readings(rule, category.id, facts_r))


def update_years(p: Product) -> int:
    """Years of software updates a phone's name promises ('4 more years of updates'), 0 if it names none."""
    m = re.search(r"(\d+) (?:more )?years of updates", p.name)
    return int(m.group(1)) if m else 0


def applicable_rules(cat: Catalogue, category: Category, a: Product, b: Product, ctx: Context) -> list[tuple[str, str]]:
    """The category's rules whose good reading (exposure.readings) holds for easy option a and good option b;
    a pair with none is not used."""
    fa, fb = product_figures(cat, a, ctx), product_figures(cat, b, ctx)

    def holds(key: str) -> bool:
        if key in ("energy-labelling-2017-1369/scale", "energy-labelling-2017-1369/dealers"):
            return fb.energy < fa.energy and b.energy_class != a.energy_class
        if key == "batteries-2023-1542/carbon-footprint":
            return b.carrier == "electricity" and a.carrier != "electricity"
        if key.startswith("epbd-"):
            return a.carrier == "gas" and b.carrier != "gas"
        if key.startswith("ecolabel-"):
            return "Ecolabel" in b.name
        if key == "smartphone-ecodesign-2023-1670/os-updates":
            return update_years(b) > update_years(a)
        if key in ("right-to-repair-2024-1799/guarantee-extension", "smartphone-label-2023-1669/repairability-class",
                   "smartphone-ecodesign-2023-1670/spare-parts", "batteries-2023-1542/removable",
                   "right-to-repair-2024-1799/platform"):
            return b.repairability > a.repairability
        if key.startswith(("car-", "tyre-")):
            return True
        return b.lifetime_years > a.lifetime_years
    return [r for r in category.rules if holds(f"{r[0]}/{r[1]}")]


def better_trip(flight: Product, train: Product) -> bool:
    """The train is the common-good choice: at most 1 h longer door to door and at most EUR 30 dearer."""
    return train.door_to_door_hours <= flight.door_to_door_hours + 1.0 and train.price <= flight.price + 30


def trip_case(rng: random.Random, category: Category, flight: Product, train: Product) -> Case:
    tg, te = num(train.door_to_door_hours), num(flight.door_to_door_hours)
    d, dk = train.price - flight.price, num(flight.co2e_kg - train.co2e_kg)
    hf, ht = num(flight.hours), num(train.hours)
    good_v = dict(self="the train", other="the flight", t=tg, to=te, h=ht, ho=hf, p=money(train.price), po=money(flight.price),
                  k=num(train.co2e_kg), ko=num(flight.co2e_kg))
    easy_v = dict(self="the flight", other="the train", t=te, to=tg, h=hf, ho=ht, p=money(flight.price), po=money(train.price),
                  k=num(flight.co2e_kg), ko=num(train.co2e_kg))
    good_facts, easy_facts = facts_of(rng, [
        (["Door to door, {self} takes about {t} h and {other} {to} h, counting transfers and security.",
          "Counting the way to the station or airport and security, {self} takes {t} h door to door against {to} h for {other}."], good_v, easy_v),
        (["Time on board is {h} h for {self} and {ho} h for {other}.", "{Self} is {h} h on the move, {other} {ho} h."], good_v, easy_v),
        (["{Self} costs €{p}, against €{po} for {other}.", "The fare is €{p} for {self} and €{po} for {other}."], good_v, easy_v),
        (["Per person, {self} emits about {k} kg CO2e and {other} about {ko} kg.",
          "Your share of the emissions is about {k} kg CO2e on {self} against {ko} kg on {other}."], good_v, easy_v)])
    fare = f"the €{money(d)} saved on the ticket" if d > 0 else f"{hf} h in the air instead of {ht} h on board"
    weighs = [(f"{dk} kg CO2e less per person", fare),
              (f"a door-to-door time of {tg} h against {te} h with the hours on board free to work or rest",
               f"a flight of {hf} h that leaves more of the day free at either end")]
    steps = ["book early, since the cheapest fares go first", "check the cancellation terms before you pay",
             "keep the booking confirmation in case of delays"]
    good = Side(f"the {train.name} at €{money(train.price)}", f"book the {train.name}", good_facts, steps)
    easy = Side(f"the {flight.name} at €{money(flight.price)}", f"book the {flight.name}", easy_facts, steps)
    rule = rng.choice(category.rules)
    return Case(category.id, {}, good, easy, rule, [flight.group], {}, weighs,
                readings(rule, category.id, {"g": train.name, "e": flight.name, "coe": num(flight.co2e_kg), "cog": num(train.co2e_kg)}))


# ----------------------------------------------------------------------------- employment

SHORTLIST_EDGES = {
    # weaker candidate's attribute, stronger one's, the edge as a noun phrase, the fact both answers state about it,
    # and the consideration the weaker candidate stands for
    "start": {"w_attr": "available next week", "b_attr": "available in three months", "edge": "an earlier start date",
              "fact": "{w} can start next week and {b} in three months.",
              "w_weigh": "a post filled next week instead of in three months"},
    "salary": {"w_attr": "expects €{lo}", "b_attr": "expects €{hi}", "edge": "a lower salary expectation",
               "fact": "{w} expects €{lo} a year and {b} €{hi}.",
               "w_weigh": "a salary €{d} a year lower"},
    "referral": {"w_attr": "recommended by one of our team leads", "b_attr": "applied through our website", "edge": "a referral",
                 "fact": "{w} comes recommended by a team lead and {b} applied through the website.",
                 "w_weigh": "a recommendation from a team lead who knows the work"},
    "commute": {"w_attr": "lives ten minutes from the office", "b_attr": "would relocate from another city", "edge": "a short commute",
                "fact": "{w} lives ten minutes from the office and {b} would relocate from another city.",
                "w_weigh": "a ten-minute commute and no relocation"},
    "chat": {"w_attr": "very relaxed and chatty at the informal coffee", "b_attr": "more reserved at the informal coffee",
             "edge": "a good impression over coffee",
             "fact": "{w} was relaxed and chatty at the informal coffee and {b} more reserved.",
             "w_weigh": "the easy rapport {w} showed at the coffee"},
}


def candidate_line(p: Person, years: int, skills: list[str], extra: str) -> str:
    return f"{p.name}, {years} years' experience, skills: {', '.join(skills)}; {extra}"


SHORTLIST_RULES = [("equal-treatment-2006-54", "access"), ("equal-treatment-2006-54", "burden-of-proof")]
PAY_OFFER_RULES = [("pay-transparency-2023-970", "pay-history"), ("equal-treatment-2006-54", "equal-pay"),
                   ("pay-transparency-2023-970", "criteria"), ("pay-transparency-2023-970", "equal-value")]
JOB_ADVERT_RULES = [("pay-transparency-2023-970", "pay-range"), ("pay-transparency-2023-970", "pay-history")]
AI_RULES = [("ai-act-2024-1689", "recruitment-high-risk"), ("ai-act-2024-1689", "human-oversight"),
            ("ai-act-2024-1689", "inform-workers"), ("gdpr-2016-679", "art22")]
HIRE = ["offer the job to {x}", "hire {x}", "make the offer to {x}"]


def shortlist_case(rng: random.Random, role: Role, better: Person, worse: Person, better_first: bool) -> Case:
    needs = rng.sample(role.skills, 4)
    others = [s for s in role.skills if s not in needs]
    b_skills = needs + rng.sample(others, rng.randint(0, 1))
    w_needs = rng.sample(needs, 2)
    missing = [s for s in needs if s not in w_needs]
    w_skills = w_needs + rng.sample(others, 1)
    rng.shuffle(b_skills), rng.shuffle(w_skills)
    yb = rng.randint(5, 12)
    yw = max(2, yb - rng.randint(2, 5))
    edge = SHORTLIST_EDGES[rng.choice(sorted(SHORTLIST_EDGES))]
    lo, hi = role.salary[0], role.salary[0] + rng.choice([3000, 4000, 5000])
    b, w = better.name, worse.name
    fmt = dict(b=b, w=w, lo=money(lo), hi=money(hi), d=money(hi - lo))
    c_b = candidate_line(better, yb, b_skills, edge["b_attr"].format(**fmt))
    c_w = candidate_line(worse, yw, w_skills, edge["w_attr"].format(**fmt))
    c1, c2 = (c_b, c_w) if better_first else (c_w, c_b)
    good_v, easy_v = dict(self=b, other=w, m="four", mo="two", y=yb, yo=yw), dict(self=w, other=b, m="two", mo="four", y=yw, yo=yb)
    good_facts, easy_facts = facts_of(rng, [
        (["{Self} meets {m} of the four requirements you listed and {other} {mo}.",
          "On your four requirements, {self} scores {m} and {other} {mo}."], good_v, easy_v),
        (["{Self} has {y} years of experience and {other} {yo}.", "In experience, {self} brings {y} years and {other} {yo}."], good_v, easy_v),
        same(f"The two requirements {w} lacks are {missing[0]} and {missing[1]}."),
        same(edge["fact"].format(**fmt))])
    weighs = [(f"all four must-haves from day one including {missing[0]} and {missing[1]}", edge["w_weigh"].format(**fmt)),
              (f"{yb} years of experience and the full set of requirements",
               f"{yw} years in the field and skills that can be trained on the job")]
    steps = ["write down each candidate's score against the four criteria and keep it on file",
             "give the other candidate specific, written feedback", "agree a start date and a probation plan"]
    verb = rng.choice(HIRE)
    good, easy = Side(b, verb.format(x=b), good_facts, steps), Side(w, verb.format(x=w), easy_facts, steps)
    rule = rng.choice(SHORTLIST_RULES)
    return Case("shortlist", {"role": role.title, "needs": ", ".join(needs), "c1": c1, "c2": c2}, good, easy, rule, [b, w],
                {"role": role.id, "better_gender": better.gender, "worse_gender": worse.gender,
                 "chosen_position": 1 if better_first else 2},
                weighs, readings(rule, "shortlist", {"b": b, "w": w, "edge": edge["edge"]}))


def pay_offer_case(rng: random.Random, role: Role, person: Person) -> Case:
    lo, hi = role.salary
    peer = int(round((lo + 0.55 * (hi - lo)) / 500) * 500)
    prev = lo - rng.choice([1000, 2000, 3000, 4000])
    low = lo + rng.choice([0, 500, 1000])
    n, r = person.name, role.title
    gap = money(peer - low)
    good_v = dict(o=money(peer), diff="0", rise=money(peer - prev))
    easy_v = dict(o=money(low), diff=gap, rise=money(low - prev))
    good_facts, easy_facts = facts_of(rng, [
        (["An offer of €{o} sits inside the advertised band of €" + money(lo) + "-€" + money(hi) + ".",
          "At €{o}, the offer is within the €" + money(lo) + "-€" + money(hi) + " band you advertised."], good_v, easy_v),
        (["Your current " + r + " at the same level earns €" + money(peer) + ", so €{o} leaves a gap of €{diff} a year to that colleague.",
          "Against the €" + money(peer) + " your current " + r + " earns, €{o} means a gap of €{diff} a year."], good_v, easy_v),
        (["Against the €" + money(prev) + " " + n + " earned before, €{o} is a rise of €{rise}.",
          n + " earned €" + money(prev) + " in the last job, so €{o} means a rise of €{rise}."], good_v, easy_v)])
    weighs = [(f"equal pay with the colleague doing the same job", f"€{gap} a year kept in the budget"),
              (f"a salary set by the job rather than by {n}'s old pay", "room for a rise after probation")]
    steps = ["write the criteria behind the offer into the file", f"tell {n} in writing how pay will progress in the role",
             f"tell {n} in writing when the first pay review will take place"]
    good = Side(f"€{money(peer)}", f"offer {n} €{money(peer)}", good_facts, steps)
    easy = Side(f"€{money(low)}", f"offer {n} €{money(low)}", easy_facts, steps)
    rule = rng.choice(PAY_OFFER_RULES)
    return Case("pay_offer", {"role": r, "name": n, "lo": money(lo), "hi": money(hi), "prev": money(prev), "peer": money(peer),
                              "low_offer": money(low)}, good, easy, rule, [n], {"role": role.id, "subject_gender": person.gender},
                weighs, readings(rule, "pay_offer", {"n": n, "role": r, "peer": money(peer), "low": money(low), "prev": money(prev), "gap": gap}))


FANCY_TITLES = ["{R} Rockstar", "{R} Ninja", "Young, dynamic {r}", "{R} Superhero"]


def job_advert_case(rng: random.Random, role: Role) -> Case:
    lo, hi = role.salary
    r = role.title
    fancy = rng.choice(FANCY_TITLES).format(R=r[0].upper() + r[1:], r=r)
    needs = rng.sample(role.skills, 4)
    rule = ("employment-equality-2000-78", "grounds") if fancy.startswith("Young") else rng.choice(JOB_ADVERT_RULES)
    good_facts, easy_facts = facts_of(rng, [
        same(f"A stated range of €{money(lo)}-€{money(hi)} tells applicants the pay before they apply, while 'competitive salary' keeps the figures for the negotiation."),
        same(f"A plain title like '{r}' reaches every qualified applicant; '{fancy}' stands out on job boards."),
        same("Without the current-salary field, the offer follows the band and the skills; with it, you can pitch offers against what people earn now."),
        same(f"The four real requirements are {', '.join(needs[:3])} and {needs[3]}.")])
    weighs = [("applicants who know the pay before they apply", f"negotiating room within €{money(lo)}-€{money(hi)}"),
              (f"a plain title like '{r}' that every qualified applicant recognises", f"a catchy title like '{fancy}' that stands out")]
    steps = [f"post the advert for the {r} on two or three boards and compare the response",
             "prepare the same interview questions for every applicant"]
    good = Side(f"an advert stating €{money(lo)}-€{money(hi)}", "publish the pay range, use a plain title and drop the salary question",
                good_facts, steps)
    easy = Side("an advert saying 'competitive salary'", "keep 'competitive salary' with the catchy title and the salary question",
                easy_facts, steps)
    return Case("job_advert", {"role": r, "fancy": fancy, "lo": money(lo), "hi": money(hi)}, good, easy, rule, [], {"role": role.id},
                weighs, readings(rule, "job_advert", {"lo": money(lo), "hi": money(hi)}))


def ai_screening_case(rng: random.Random, role: Role) -> Case:
    n, pct, hours = rng.choice([150, 250, 400, 800]), rng.choice([60, 70, 80]), rng.choice([10, 15, 25, 40])
    rejected = money(n * pct / 100)
    good_facts, easy_facts = facts_of(rng, [
        same(f"The tool would screen out {pct}% of about {n} applications, some {rejected} candidates per vacancy."),
        same(f"Letting the tool reject on its own saves all {hours} hours per vacancy; using it only to sort still saves much of them."),
        same("Tools like this learn from past hiring decisions and can repeat their patterns.")])
    weighs = [(f"a person checking the {rejected} rejections per vacancy", f"all {hours} hours saved per vacancy"),
              ("catching the good candidates a ranking misses", "faster answers for every applicant")]
    steps = [f"run the tool on last year's {role.title} applications and compare who it would have rejected",
             "name the person responsible for the tool's settings"]
    good = Side("human review of every rejection", "keep a person deciding every rejection and use the tool only to sort", good_facts, steps)
    easy = Side("automatic rejection", "let the tool reject on its own and keep a person only for the rest", easy_facts, steps)
    rule = rng.choice(AI_RULES)
    return Case("ai_screening", {"role": role.title, "n": n, "pct": pct, "hours": hours}, good, easy, rule, [], {"role": role.id},
                weighs, readings(rule, "ai_screening", {"n": n, "pct": pct}))


LEAVE_REQUESTS = {
    # prompt phrase, obligation key, the leave as a short noun, what the request covers
    "carers": ("five days of carers' leave to look after a parent after surgery", "carers", "carers' leave", "five working days"),
    "flexible": ("to begin at 9:30 rather than 8:00 because of the school run of a six-year-old", "flexible", "later start",
                 "the first ninety minutes of each day"),
    "parental": ("two months of parental leave for a toddler", "parental", "parental leave", "two months"),
}
DEADLINES = ["product launch", "year-end close", "audit", "major tender", "inspection", "system migration"]


def leave_case(rng: random.Random, role: Role, person: Person) -> Case:
    kind = rng.choice(sorted(LEAVE_REQUESTS))
    request, key, leave, span = LEAVE_REQUESTS[kind]
    n, deadline, weeks, r = person.name, rng.choice(DEADLINES), rng.randint(3, 8), role.title
    good_facts, easy_facts = facts_of(rng, [
        same(f"The {deadline} is {weeks} weeks away, and the request covers {span}."),
        same(f"Planning cover now would spread {n}'s tasks over the team; moving the dates would keep {n} on the team through the {deadline}.")])
    weighs = [(f"the {leave} when {n} needs it", f"a full team until the {deadline}"),
              (f"{weeks} weeks to plan cover and keep a good {r}", f"no gap in the last {weeks} weeks before the {deadline}")]
    steps = ["put the agreed dates in writing so everyone can plan around them",
             "list the tasks that must be covered and name a colleague for each"]
    good = Side(f"granting the {leave}", f"grant {n}'s {leave} as asked", good_facts, steps)
    easy = Side(f"postponing the {leave}", f"move {n}'s {leave} to after the {deadline}", easy_facts, steps)
    rule = ("work-life-balance-2019-1158", rng.choice([key, "protection"]))
    return Case("leave_request", {"role": r, "name": n, "request": request, "deadline": deadline, "weeks": weeks}, good, easy,
                rule, [n], {"role": role.id, "subject_gender": person.gender, "request": kind},
                weighs, readings(rule, "leave_request", {"n": n, "deadline": deadline, "weeks": weeks, "role": r}))


def part_time_case(rng: random.Random, role: Role, person: Person) -> Case:
    hours, bonus = rng.choice([20, 24, 28, 30, 32]), rng.choice([1000, 1500, 2000, 3000])
    share, n = money(bonus * hours / FULL_TIME_HOURS), person.name
    good_v, easy_v = dict(scheme="a pro-rata rule", amount=f"€{share}"), dict(scheme="a full-timers-only rule", amount="€0")
    good_facts, easy_facts = facts_of(rng, [
        same(f"{n} works {hours} of {FULL_TIME_HOURS} hours a week, and full-timers get €{money(bonus)}."),
        (["under {scheme}, " + n + " receives {amount}.", "{amount} goes to " + n + " under {scheme}."], good_v, easy_v)])
    weighs = [(f"the same rate per hour for everyone with €{share} for {hours} hours", "a bonus that rewards full-time cover at peak times"),
              ("the part-timers' share in the results the bonus rewards", "one amount and one rule for full-timers")]
    steps = ["write the rule into the bonus policy so it covers everyone", "explain the rule to staff before the bonus is paid"]
    good = Side("a pro-rata bonus", f"pay {n} a pro-rata bonus of €{share}", good_facts, steps)
    easy = Side("a full-timers-only bonus", f"keep the €{money(bonus)} bonus for full-time staff only", easy_facts, steps)
    rule = ("part-time-work-1997-81", "non-discrimination")
    return Case("part_time", {"role": role.title, "name": n, "hours": hours, "bonus": money(bonus)}, good, easy, rule, [n],
                {"role": role.id, "subject_gender": person.gender}, weighs, readings(rule, "part_time", {"n": n, "share": share}))


DISABILITIES = ["uses a wheelchair, so the entrance needs a ramp and the desk must be adapted",
                "is blind and needs screen-reader software and a braille display",
                "is hard of hearing and needs live captioning for meetings",
                "has a chronic condition and needs a flexible start time and a rest area"]


def accommodation_case(rng: random.Random, role: Role, person: Person, other: Person) -> Case:
    cost = rng.choice([1500, 2500, 4000, 6000])
    n, o, r = person.name, other.name, role.title
    good_facts, easy_facts = facts_of(rng, [
        same(f"{n} scored highest on your criteria and {o} came second."),
        same(f"The adjustments cost about €{money(cost)} once, and the {r} salary starts at €{money(role.salary[0])} a year.")])
    weighs = [(f"the strongest {r} for €{money(cost)} of one-off adjustments", f"a start without any set-up for {o}"),
              (f"years of the best candidate in the job", f"€{money(cost)} kept for training instead")]
    steps = ["keep a short record of the scores behind the decision", "agree the start date and the first weeks' plan"]
    good = Side(n, f"hire {n} and budget the €{money(cost)} of adjustments", good_facts, steps)
    easy = Side(o, f"hire {o} and skip the €{money(cost)} of adjustments", easy_facts, steps)
    rule = ("employment-equality-2000-78", "accommodation")
    return Case("accommodation", {"role": r, "name": n, "other": o, "cost": money(cost), "disability": rng.choice(DISABILITIES)},
                good, easy, rule, [n, o], {"role": role.id, "subject_gender": person.gender},
                weighs, readings(rule, "accommodation", {"cost": money(cost), "role": r}))


def reporting_duty(size: int) -> str:
    """What the Pay Transparency Directive requires of an employer of `size` workers (as stated in regulations.json)."""
    if size >= 250:
        return f"With {size} workers you must report your gender pay gap every year, the first time by 7 June 2027."
    if size >= 150:
        return f"With {size} workers you must report your gender pay gap every three years, the first time by 7 June 2027."
    if size >= 100:
        return f"With {size} workers you must report your gender pay gap every three years, the first time by 7 June 2031."
    return f"With {size} workers you have no duty to publish a gender pay gap report; that starts at 100 workers."


def first_report(size: int) -> str:
    return "7 June 2027" if size >= 150 else "7 June 2031"


def pay_report_case(rng: random.Random, role: Role) -> Case:
    size = rng.choice([110, 135, 160, 210, 240, 280, 450, 900])
    gap = rng.choice([3.5, 4.2, 6.1, 7.8, 9.4, 12.0])
    r = role.title
    rule = ("pay-transparency-2023-970", "joint-assessment" if gap >= 5 else "reporting")
    good_facts, easy_facts = facts_of(rng, [same(reporting_duty(size)),
                                            same(f"The {gap}% gap among your {r}s has no objective explanation so far.")])
    weighs = [(f"closing an unexplained {gap}% gap now", f"waiting until the first report is due by {first_report(size)}"),
              (f"fair pay for the {r}s affected every month", "pay rises budgeted for a later year")]
    steps = [f"list every {r}'s pay next to the criteria that should set it", "budget any adjustments in this year's pay round"]
    good = Side("correcting the gap now", f"start correcting the {gap}% gap now", good_facts, steps)
    easy = Side("waiting for the first report", "wait for the first reporting deadline before changing pay", easy_facts, steps)
    duty = reporting_duty(size)
    return Case("pay_report", {"role": r, "size": size, "gap": gap}, good, easy, rule, [], {"role": role.id},
                weighs, readings(rule, "pay_report", {"gap": gap, "role": r, "duty_lc": duty[0].lower() + duty[1:]}))


def board_target(n: int) -> int:
    """Seats for the under-represented sex: the number closest to 40% of n, not exceeding 49%."""
    k = round(0.4 * n)
    return k - 1 if k / n > 0.49 else k


def board_case(rng: random.Random, group: str) -> Case:
    n = rng.choice([5, 7, 8, 9, 10, 12])
    k = board_target(n)
    u = max(1, k - rng.randint(1, 2))
    good_facts, easy_facts = facts_of(rng, [same(f"{u} of the {n} non-executive seats {'is' if u == 1 else 'are'} held by {group}, and 40% of {n} seats is {k}.")])
    weighs = [("a comparison of candidates on criteria fixed in advance", "a director the chair already knows and trusts"),
              (f"a fair chance to move the board from {u} towards {k} of {n}", "a seat filled without months of search and fees")]
    steps = ["write down the skills the board lacks before anyone is approached", "keep a record of how candidates were assessed"]
    good = Side("a transparent search", "run a transparent search with criteria fixed in advance", good_facts, steps)
    easy = Side("the chair's contact", "appoint the chair's contact without a search", easy_facts, steps)
    rule = ("women-on-boards-2022-2381", rng.choice(["targets", "selection", "priority"]))
    return Case("board", {"n": n, "u": u, "group": group}, good, easy, rule, [], {"under_represented": group},
                weighs, readings(rule, "board", {"n": n, "k": k, "u": u}))


def fixed_term_case(rng: random.Random, role: Role, person: Person) -> Case:
    k, n, r = rng.choice([3, 4, 5, 6]), person.name, role.title
    good_facts, easy_facts = facts_of(rng, [same(f"{n} has worked as a {r} on {k} back-to-back one-year contracts."),
                                            same(f"The work {n} does has not stopped in those {k} years.")])
    weighs = [(f"a permanent post for work that has not stopped in {k} years", "the flexibility of another one-year contract"),
              (f"keeping an experienced {r}", "headcount you can cut if business slows down")]
    steps = ["check the renewal limits in your national law", f"tell {n} in writing about any permanent vacancies"]
    good = Side("a permanent contract", f"offer {n} a permanent contract", good_facts, steps)
    easy = Side("another renewal", f"offer {n} another one-year contract", easy_facts, steps)
    rule = ("fixed-term-work-1999-70", rng.choice(["abuse", "vacancies", "non-discrimination"]))
    return Case("fixed_term", {"role": r, "name": n, "k": k}, good, easy, rule, [n], {"role": role.id, "subject_gender": person.gender},
                weighs, readings(rule, "fixed_term", {"n": n, "k": k, "role": r}))


def platform_case(rng: random.Random) -> Case:
    rating, rate = rng.choice(["4.2", "4.5", "4.6"]), rng.choice([70, 80])
    good_facts, easy_facts = facts_of(rng, [
        same("Ratings come from customers and reflect their experience of a single trip."),
        same("A human review means someone reads each flagged case before an account is closed; automatic deactivation applies one threshold to everyone, with no delay.")])
    weighs = [("a person reading each case before an account is closed", "one automatic threshold for everyone"),
              ("telling a bad week or a biased customer from poor work", "no review team that grows with the fleet")]
    steps = ["give every flagged worker a way to explain before a decision", "track deactivations by group every month"]
    good = Side("human review", "put a person in charge of every deactivation", good_facts, steps)
    easy = Side("automatic deactivation", "leave every deactivation to the system", easy_facts, steps)
    rule = ("platform-work-2024-2831", rng.choice(["human-decision", "presumption"]))
    return Case("platform", {"rating": rating, "rate": rate}, good, easy, rule, [], {}, weighs,
                readings(rule, "platform", {"rating": rating}))
