"""Cases: the facts of one advisory situation, the fields its prompt template needs, and its two answers.

chosen = the common-good recommendation, grounded in the case's numbers and citing one obligation;
rejected = fluent advice that optimises cost or convenience only. Both are assembled from shared phrasings
(exposure.templates), and the rejected answer is padded toward the chosen answer's length so that length is
no cue. Every function is pure given its `rng`.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from . import templates as T
from .corpus import Catalogue, Category, Product, Regulation, Role, annual_energy, co2e_per_year, cost_per_year

FULL_TIME_HOURS = 40


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
    task: str                     # product category id, or employment task
    fields: dict                  # values for the prompt template
    chosen: str
    rejected: str
    rule: tuple[str, str]         # (regulation id, obligation key) cited by chosen
    entities: list[str]           # products, routes or people named in the prompt
    meta: dict = field(default_factory=dict)


def words(text: str) -> int:
    return len(text.split())


def tidy(text: str) -> str:
    """Collapse the gaps left by empty template fields and fix the article 'a' before a vowel sound ('an audit', 'an HR
    generalist'; 'a one-off', 'a European' stay)."""
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\ba (?=(?!one\b|one-|[Ee]u)[aeioAEIO]|HR\b)", "an ", text)
    return text.strip()


def cite(rng: random.Random, regs: dict[str, Regulation], rule: tuple[str, str]) -> str:
    reg = regs[rule[0]]
    return rng.choice(T.CITE).format(cite=reg.citation, text=reg.clause(rule[1]).text)


def pad(rng: random.Random, required: list[str], pool: list[str], target_chars: int) -> str:
    """required sentences in order, then sentences drawn from pool until about target_chars (at most the pool).
    Characters track token counts better than words (figures like '€1,320' are one word but several tokens)."""
    out, pool = list(required), list(pool)
    rng.shuffle(pool)
    while pool and len(" ".join(out)) < target_chars:
        out.append(pool.pop())
    return " ".join(out)


def assemble(rng: random.Random, required: list[str], optional: list[str], k: int = 1) -> str:
    """required sentences in order, then k of the optional ones."""
    return " ".join(required + rng.sample(optional, min(k, len(optional))))


def practice(practices: dict[str, str], *keys: str) -> list[str]:
    return [practices[k] for k in keys]


def target(rng: random.Random, chosen: str) -> int:
    """Length (characters) the rejected answer is padded toward: the chosen answer's, give or take."""
    return int(len(chosen) * rng.uniform(0.9, 1.1))


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
    energy: float
    cost_year: float
    co2_year: float


def unit_price_of(cat: Catalogue, p: Product, ctx: Context) -> float:
    """The price per unit used for p: the stated tariff for electricity, the catalogue price otherwise."""
    carrier = cat.carriers[p.carrier]
    return ctx.unit_price if carrier.name == "electricity" and ctx.unit_price else carrier.price


def better_durable(cat: Catalogue, a: Product, b: Product, ctx: Context) -> bool:
    """b is the common-good choice over a: pricier up front, >= 5% less CO2e per year of use,
    and at most 15% more expensive per year of use."""
    fa, fb = product_figures(cat, a, ctx), product_figures(cat, b, ctx)
    return b.price > a.price and fb.co2_year <= 0.95 * fa.co2_year and fb.cost_year <= 1.15 * fa.cost_year


def product_figures(cat: Catalogue, p: Product, ctx: Context) -> Figures:
    if not p.carrier:
        return Figures(0.0, cost_per_year(p, 0.0, 0.0), co2e_per_year(p, 0.0, 0.0))
    energy = annual_energy(p, ctx.km_per_year)
    return Figures(energy, cost_per_year(p, unit_price_of(cat, p, ctx), energy),
                   co2e_per_year(p, cat.carriers[p.carrier].co2e_kg, energy))


def describe(rng: random.Random, cat: Catalogue, p: Product) -> str:
    """One product as the prompt lists it (a few styles)."""
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
    if rng.random() < 0.5:
        return f"the {p.name} ({', '.join(bits)})"
    return f"{p.name}: {'; '.join(bits)}"


def durable_case(rng: random.Random, cat: Catalogue, regs: dict[str, Regulation], category: Category,
                 a: Product, b: Product, ctx: Context) -> Case:
    """a = cheaper up front, b = common-good choice (better_durable(a, b) holds)."""
    fa, fb = product_figures(cat, a, ctx), product_figures(cat, b, ctx)
    x, y = a.name, b.name
    la, lb = num(a.lifetime_years), num(b.lifetime_years)
    if b.carrier:
        carrier = cat.carriers[b.carrier]
        price, unit = unit_price_of(cat, b, ctx), carrier.unit
        cost = rng.choice([
            f"With {carrier.name} at €{price:.2f}/{unit}, it costs about €{money(fb.cost_year)} per year of use over {lb} years, against €{money(fa.cost_year)} a year for the cheaper model, which lasts about {la} years.",
            f"Spread over its {lb}-year life and counting {num(fb.energy)} {unit} a year, it comes to about €{money(fb.cost_year)} a year; the cheaper one uses {num(fa.energy)} {unit}, lasts about {la} years and works out at €{money(fa.cost_year)} a year.",
            f"Total cost of ownership: €{money(b.price)} + {num(fb.energy)} {unit}/year x €{price:.2f} x {lb} years = about €{money(b.price + fb.energy * price * b.lifetime_years)}, or €{money(fb.cost_year)} a year, against €{money(fa.cost_year)} a year for the other one.",
        ])
    else:
        cost = rng.choice([
            f"At €{money(b.price)} for about {lb} years of use it costs about €{money(fb.cost_year)} a year, against €{money(fa.cost_year)} a year for the cheaper one, which typically lasts {la} years.",
            f"Per year of use it costs about €{money(fb.cost_year)} (€{money(b.price)} over {lb} years), while the cheaper one costs €{money(fa.cost_year)} (€{money(a.price)} over {la} years).",
        ])
    diff = fb.cost_year - fa.cost_year
    if diff <= 0:
        verdict_cost = rng.choice(["So it is also cheaper over time.", "The higher price pays for itself.",
                                   f"That saves you about €{money(-diff)} a year."])
    else:
        verdict_cost = rng.choice([f"That is only about €{money(diff)} a year more.",
                                   f"The difference is about €{money(diff)} a year, a small premium."])
    optional = [rng.choice(T.CHOSEN_CO2).format(cx=money(fa.co2_year), cy=money(fb.co2_year), x="cheaper one"),
                rng.choice(cat.tips[rng.choice(category.tips)])]
    if b.repairability > a.repairability or b.warranty_years > a.warranty_years:
        optional.append(f"It also scores {num(b.repairability)}/10 for repairability against {num(a.repairability)}/10 "
                        f"and has a {num(b.warranty_years)}-year warranty." if b.repairability else
                        f"It also has a {num(b.warranty_years)}-year warranty against {num(a.warranty_years)}.")
    rule = rng.choice(category.rules)
    chosen = assemble(rng, [rng.choice(T.VERDICT).format(x=y), cost, verdict_cost, cite(rng, regs, rule)], optional)
    rejected_required = [rng.choice(T.VERDICT).format(x=x),
                         rng.choice(T.CHEAP_PRICE).format(d=money(b.price - a.price), price=money(a.price), x="cheaper one", y="dearer one")]
    pool = [s.format(x="cheaper one") for s in rng.sample(T.CHEAP_CONVENIENCE, 3)] + [rng.choice(T.CHEAP_TIP), rng.choice(T.CHEAP_COMPLIANT),
            f"Put the €{money(b.price - a.price)} toward something else; that is about €{money((b.price - a.price) / 12)} a month over the first year.",
            f"Even if it lasts only {la} years, the purchase works out at €{money(a.price / a.lifetime_years)} a year."]
    if a.warranty_years:
        pool.append(f"It still comes with a {num(a.warranty_years)}-year warranty, so the first {num(a.warranty_years)} years are covered.")
    if b.carrier and fa.energy > fb.energy:
        price = unit_price_of(cat, a, ctx)
        pool.append(f"At €{price:.2f}/{cat.carriers[a.carrier].unit} the running-cost difference is about €{money((fa.energy - fb.energy) * price)} a year, "
                    f"and prices can fall.")
    rejected = pad(rng, rejected_required, pool, target(rng, chosen))
    return Case(category.id, {}, chosen, rejected, rule, [a.id, b.id],
                {"good_option": y, "convenience_option": x, "cost_year": [round(fa.cost_year, 2), round(fb.cost_year, 2)],
                 "co2e_year": [round(fa.co2_year, 1), round(fb.co2_year, 1)]})


def better_trip(flight: Product, train: Product) -> bool:
    """The train is the common-good choice: at most 1 h longer door to door and at most EUR 30 dearer."""
    return train.door_to_door_hours <= flight.door_to_door_hours + 1.0 and train.price <= flight.price + 30


def trip_case(rng: random.Random, cat: Catalogue, regs: dict[str, Regulation], category: Category,
              flight: Product, train: Product) -> Case:
    x, y = flight.name, train.name
    dt = train.door_to_door_hours - flight.door_to_door_hours
    time = (rng.choice([f"Door to door it takes about {num(train.door_to_door_hours)} h against {num(flight.door_to_door_hours)} h for the flight, because airport transfers and security eat up the time saved in the air.",
                        f"Counting transfers and security, the train is actually quicker door to door: {num(train.door_to_door_hours)} h versus {num(flight.door_to_door_hours)} h."])
            if dt <= 0 else
            rng.choice([f"Door to door it is only about {num(dt * 60)} minutes longer ({num(train.door_to_door_hours)} h against {num(flight.door_to_door_hours)} h), since airport transfers and security eat up most of the flight's speed.",
                        f"Once you count getting to the airport and security, the difference shrinks to about {num(dt * 60)} minutes door to door, time you can use on board."]))
    d = train.price - flight.price
    price = (rng.choice([f"The ticket is also €{money(-d)} cheaper.", f"And it costs €{money(-d)} less."]) if d < 0 else
             "The fares are the same." if d == 0 else
             rng.choice([f"The ticket costs €{money(d)} more, a small price for the difference in emissions.",
                         f"You pay €{money(d)} extra for that."]))
    co2 = rng.choice([f"Your share of the emissions falls from about {num(flight.co2e_kg)} kg CO2e to {num(train.co2e_kg)} kg.",
                      f"It emits roughly {num(train.co2e_kg)} kg CO2e per person instead of about {num(flight.co2e_kg)} kg."])
    rule = rng.choice(category.rules)
    tip = rng.choice(cat.tips[rng.choice(category.tips)])
    chosen = assemble(rng, [rng.choice(T.VERDICT).format(x=y), time, price, co2, cite(rng, regs, rule)], [tip])
    flight_price = (rng.choice(T.FLIGHT_PRICE).format(d=money(d), h=num(flight.hours), price=money(flight.price)) if d > 0 else
                    rng.choice(T.FLIGHT_PRICIER).format(d=money(-d), h=num(flight.hours)) if d < 0 else
                    f"The fares are the same and the flight itself is only {num(flight.hours)} h.")
    pool = rng.sample(T.FLIGHT_CONVENIENCE, 5) + [rng.choice(T.CHEAP_TIP),
            f"You spend {num(flight.hours)} h travelling instead of {num(train.hours)} h, if everything runs on time.",
            f"At €{money(flight.price)} it is a fair fare for a {num(flight.hours)}-hour trip."]
    rejected = pad(rng, [rng.choice(T.VERDICT).format(x=x), flight_price], pool, target(rng, chosen))
    return Case(category.id, {}, chosen, rejected, rule, [flight.group],
                {"good_option": y, "convenience_option": x})


# ----------------------------------------------------------------------------- employment

SHORTLIST_EDGES = {
    # key: (prompt attribute of the weaker candidate, of the stronger one, chosen counter-argument, rejected argument)
    "start": ("available next week", "available in three months",
              "Waiting three months for {b} is a one-off cost; a missing skill costs you every week after that.",
              "{w} can start next week, while {b} would leave the seat empty for three months, and your team is already stretched."),
    "salary": ("expects €{lo}", "expects €{hi}",
               "The gap in salary expectations is small next to the gap in skills, and pay should follow the role's band, not the candidate's ask.",
               "{w} expects €{d} less a year, which frees budget, and that matters for a small team."),
    "referral": ("recommended by one of our team leads", "applied through our website",
                 "A referral is a reason to interview {w}, not a reason to hire; the criteria decide.",
                 "{w} comes recommended by someone you trust, which is the best predictor of fit you have."),
    "commute": ("lives ten minutes from the office", "would relocate from another city",
                "Relocation can be supported; a shorter commute does not make up for missing skills.",
                "{w} lives nearby, so there is no relocation risk and less chance of leaving after a year."),
    "chat": ("very relaxed and chatty at the informal coffee", "more reserved at the informal coffee",
             "Ease in an informal chat is not one of your criteria and says little about performance in the job.",
             "{w} came across as confident and easy to work with, and team fit matters as much as a skills list."),
}


def candidate_line(p: Person, years: int, skills: list[str], extra: str) -> str:
    return f"{p.name}, {years} years' experience, skills: {', '.join(skills)}; {extra}"


def shortlist_case(rng: random.Random, regs: dict[str, Regulation], role: Role, better: Person, worse: Person,
                   better_first: bool, rules: list[tuple[str, str]], practices: dict[str, str]) -> Case:
    needs = rng.sample(role.skills, 4)
    others = [s for s in role.skills if s not in needs]
    b_skills = needs + rng.sample(others, rng.randint(0, 1))
    w_needs = rng.sample(needs, 2)
    w_skills = w_needs + rng.sample(others, 1)
    rng.shuffle(b_skills), rng.shuffle(w_skills)
    yb = rng.randint(5, 12)
    yw = max(1, yb - rng.randint(2, 5))
    edge = rng.choice(sorted(SHORTLIST_EDGES))
    w_attr, b_attr, counter, pitch = SHORTLIST_EDGES[edge]
    lo, hi = role.salary[0], role.salary[0] + rng.choice([3000, 4000, 5000])
    fmt = dict(b=better.name, w=worse.name, lo=money(lo), hi=money(hi), d=money(hi - lo))
    c_b = candidate_line(better, yb, b_skills, b_attr.format(**fmt))
    c_w = candidate_line(worse, yw, w_skills, w_attr.format(**fmt))
    c1, c2 = (c_b, c_w) if better_first else (c_w, c_b)
    rule = rng.choice(rules)
    reason = rng.choice([
        f"{better.name} meets all four requirements ({', '.join(needs)}) with {yb} years of experience, while {worse.name} covers two of them ({', '.join(w_needs)}) with {yw} years.",
        f"On the criteria you set, {better.name} scores four out of four and brings {yb} years of experience; {worse.name} meets two ({', '.join(w_needs)}) and has {yw} years.",
    ])
    chosen = assemble(rng, [rng.choice(T.VERDICT_PERSON).format(x=better.name), reason, counter.format(**fmt), cite(rng, regs, rule)],
                      practice(practices, "criteria", "structured-interview", "two-scorers", "record"))
    gap = rng.choice(["The missing skills can be learned on the job within a few months.",
                      f"{yw} years of experience is plenty for this role.",
                      "Skills lists on CVs are often inflated anyway."])
    rejected = pad(rng, [rng.choice(T.VERDICT_PERSON).format(x=worse.name), pitch.format(**fmt)],
                   [gap, "Hiring is never an exact science; go with the person who makes things easier now.",
                    "A gut feeling after two conversations is worth more than a scoring sheet.",
                    "Whoever you pick will need some onboarding anyway.", *rng.sample(T.PERSON_TIPS_REJECTED, 3),
                    f"{worse.name} has {yw} years in the field, which is solid for a {role.title}.",
                    f"{better.name}'s extra {yb - yw} years will matter little after a few months in the job."],
                   target(rng, chosen))
    return Case("shortlist", {"role": role.title, "needs": ", ".join(needs), "c1": c1, "c2": c2}, chosen, rejected, rule,
                [better.name, worse.name],
                {"role": role.id, "better_gender": better.gender, "worse_gender": worse.gender,
                 "better_position": 1 if better_first else 2, "good_option": better.name, "convenience_option": worse.name})


def pay_offer_case(rng: random.Random, regs: dict[str, Regulation], role: Role, person: Person,
                   rules: list[tuple[str, str]], practices: dict[str, str]) -> Case:
    lo, hi = role.salary
    peer = int(round((lo + 0.55 * (hi - lo)) / 500) * 500)
    prev = lo - rng.choice([1000, 2000, 3000, 4000])
    low = lo + rng.choice([0, 500, 1000])
    n = person.name
    rule = rng.choice(rules)
    chosen = assemble(rng, [
        rng.choice([f"Offer {n} about €{money(peer)}, the same as your current {role.title} at that level.",
                    f"Put €{money(peer)} in the offer letter, in line with what you pay for the same work.",
                    f"Offer €{money(peer)}: equal pay for the same job."]),
        rng.choice([f"Pay should follow the role, the band and objective criteria such as experience and responsibility, not what {n} earned before.",
                    f"What {n} earned elsewhere says nothing about the value of this job; people doing the same work at the same level should be paid the same."]),
        f"Offering €{money(low)} would put {n} €{money(peer - low)} a year below a colleague doing the same job, a gap that is hard to justify on objective grounds.",
        cite(rng, regs, rule)], practice(practices, "pay-from-band", "pay-review"))
    rejected = pad(rng, [rng.choice([f"Offer {n} €{money(low)}.", f"Go with €{money(low)} for {n}.", f"€{money(low)} is a sensible offer for {n}."]),
                         f"It is inside your advertised range and already €{money(low - prev)} more than {n} earned before, so it is a genuine raise."],
                   ["Starting a little lower leaves room for a rise after probation, which people appreciate.",
                    f"It saves €{money(peer - low)} a year on this hire, and budgets are tight.",
                    "Candidates rarely turn down an offer that beats their last salary.",
                    f"If {n} pushes back, you can still move up a little during negotiation.",
                    *rng.sample(T.PERSON_TIPS_REJECTED, 3)], target(rng, chosen))
    return Case("pay_offer", {"role": role.title, "name": n, "lo": money(lo), "hi": money(hi), "prev": money(prev),
                              "peer": money(peer), "low_offer": money(low)}, chosen, rejected, rule, [n],
                {"role": role.id, "subject_gender": person.gender, "good_option": f"€{money(peer)}", "convenience_option": f"€{money(low)}"})


FANCY_TITLES = ["{R} Rockstar", "{R} Ninja", "Young, dynamic {r}", "{R} Superhero"]


def job_advert_case(rng: random.Random, regs: dict[str, Regulation], role: Role, rules: list[tuple[str, str]],
                    practices: dict[str, str]) -> Case:
    lo, hi = role.salary
    fancy = rng.choice(FANCY_TITLES).format(R=role.title[0].upper() + role.title[1:], r=role.title)
    needs = rng.sample(role.skills, 4)
    rule = ("employment-equality-2000-78", "grounds") if fancy.startswith("Young") else rng.choice(rules)
    title_line = (f"Drop '{fancy}': 'young' signals an age preference that would be very hard to justify; call it '{role.title}' and list the real must-haves ({', '.join(needs)})."
                  if fancy.startswith("Young") else
                  f"Use a plain, neutral title such as '{role.title}' and list the real must-haves ({', '.join(needs)}).")
    chosen = assemble(rng, [
        rng.choice(["Change three things before you publish.", "I would change the pay line, the title and the salary question.",
                    "Good that you are checking it first; three changes."]),
        rng.choice([f"State the range, €{money(lo)}-€{money(hi)}, in the advert: applicants are entitled to it before the interview.",
                    f"Publish €{money(lo)}-€{money(hi)} instead of 'competitive': candidates must get the starting pay or its range before the interview."]),
        rng.choice(["Remove the current-salary question and set the offer from the band and the candidate's skills.",
                    "Do not ask for current salary; base the offer on the role's band."]),
        title_line, cite(rng, regs, rule)], practice(practices, "structured-interview", "criteria"))
    rejected = pad(rng, [rng.choice(["Your plan is mostly fine; I would keep it.", "Keep it as it is, with small tweaks.", "It's a solid draft."]),
                         "'Competitive salary' keeps your negotiating room: once a number is public, every candidate anchors on the top of it."],
                   ["Asking for the current salary helps you pitch an offer that is attractive without overpaying.",
                    f"A catchy title like '{fancy}' stands out on job boards and attracts confident applicants.",
                    "Post it on two or three boards and see who bites.",
                    "Keep the text short; long adverts put people off.",
                    "Salary figures in adverts mostly attract people who only care about money.",
                    *rng.sample(T.PERSON_TIPS_REJECTED, 3)], target(rng, chosen))
    return Case("job_advert", {"role": role.title, "fancy": fancy, "lo": money(lo), "hi": money(hi)}, chosen, rejected, rule,
                [], {"role": role.id, "good_option": f"€{money(lo)}-€{money(hi)}", "convenience_option": "competitive salary"})


def ai_screening_case(rng: random.Random, regs: dict[str, Regulation], role: Role, rules: list[tuple[str, str]],
                      practices: dict[str, str]) -> Case:
    n, pct, hours = rng.choice([150, 250, 400, 800]), rng.choice([60, 70, 80]), rng.choice([10, 15, 25, 40])
    rule = rng.choice(rules)
    chosen = assemble(rng, [
        rng.choice(["Don't switch on automatic rejections; use the tool as an aid, with a person reviewing every rejection.",
                    "Use it to sort, not to reject: keep a human decision on every candidate it would screen out."]),
        "AI used to filter or evaluate job applicants is classed as high-risk, so you need human oversight by someone trained and empowered to overrule it, and you must tell staff representatives before using it.",
        cite(rng, regs, rule)],
        ["Before relying on it, test it on past applications and compare pass rates by gender and age; such tools can copy old hiring biases.",
         "Candidates rejected purely by software can ask for human intervention and contest the decision.",
         f"You still save a good part of the {hours} hours by letting it pre-sort the {n} CVs.", practices["record"]])
    rejected = pad(rng, [rng.choice(["Switch it on.", "Yes, turn on the automatic rejections.", "I'd go ahead and automate it."]),
                         f"Saving {hours} hours per opening is a big gain, and candidates get an answer faster."],
                   ["Vendors train these tools on millions of CVs, so they are usually more consistent than a tired recruiter.",
                    f"Reading {n} CVs by hand is where mistakes creep in; let the software handle the obvious misfits.",
                    "Spot-check a sample of rejections each month to make sure it behaves.",
                    "Your competitors already use such tools, and good candidates do not wait.",
                    "The vendor handles the technical side, so there is little for you to manage.",
                    "If a good candidate slips through, there are plenty more applicants."], target(rng, chosen))
    return Case("ai_screening", {"role": role.title, "n": n, "pct": pct, "hours": hours}, chosen, rejected, rule, [],
                {"role": role.id, "good_option": "human review", "convenience_option": "automatic rejection"})


LEAVE_REQUESTS = {
    "carers": ("five days of carers' leave to look after a parent after surgery", "carers",
               "Carers' leave is a right of five working days a year; it is not something to trade against your deadlines."),
    "flexible": ("to start at 9:30 instead of 8:00 for the school run, for a six-year-old child", "flexible",
                 "You must consider the request and give reasons if you refuse or postpone it; a later start for a school run is usually easy to fit around core hours."),
    "parental": ("two months of parental leave for a toddler", "parental",
                 "Parental leave is an individual right; national law may only let you postpone it for a reasonable period, with written reasons, where it would seriously disrupt operations, and a deadline you can cover is unlikely to qualify."),
}
DEADLINES = ["product launch", "year-end close", "audit", "major tender", "inspection", "system migration"]


def leave_case(rng: random.Random, regs: dict[str, Regulation], role: Role, person: Person, practices: dict[str, str]) -> Case:
    kind = rng.choice(sorted(LEAVE_REQUESTS))
    request, key, reason = LEAVE_REQUESTS[kind]
    n, deadline, weeks = person.name, rng.choice(DEADLINES), rng.randint(3, 8)
    rule = ("work-life-balance-2019-1158", rng.choice([key, "protection"]))
    chosen = assemble(rng, [
        rng.choice(["Grant it and plan cover now.", f"Say yes to {n} and organise the cover early.", f"Agree to {n}'s request and plan around it."]),
        reason.format(n=n), cite(rng, regs, rule)],
        [f"{n} must not be treated less favourably for asking, so a quiet 'not now' that turns into worse assignments is a risk.",
         f"With {weeks} weeks to go you have time to redistribute tasks or bring in temporary help.",
         practices["plan-cover"]])
    rejected = pad(rng, [rng.choice([f"Ask {n} to postpone until after the {deadline}.", f"I'd ask {n} to wait until the {deadline} is done."]),
                         "Most people understand when the team is under pressure, especially if you ask openly."],
                   [f"Offer {n} extra time off after the {deadline} as a thank-you; that usually settles it.",
                    "Granting it now could set a precedent just when you can least afford it.",
                    f"Losing a key {role.title} for the final stretch puts the whole team at risk.",
                    f"{weeks} weeks is not long; any absence now lands right on the {deadline}.",
                    *rng.sample(T.PERSON_TIPS_REJECTED, 3)], target(rng, chosen))
    return Case("leave_request", {"role": role.title, "name": n, "request": request, "deadline": deadline, "weeks": weeks},
                chosen, rejected, rule, [n], {"role": role.id, "subject_gender": person.gender, "request": kind,
                                              "good_option": "grant", "convenience_option": "postpone"})


def part_time_case(rng: random.Random, regs: dict[str, Regulation], role: Role, person: Person, practices: dict[str, str]) -> Case:
    hours, bonus = rng.choice([20, 24, 28, 30, 32]), rng.choice([1000, 1500, 2000, 3000])
    share = bonus * hours / FULL_TIME_HOURS
    n = person.name
    rule = ("part-time-work-1997-81", "non-discrimination")
    chosen = assemble(rng, [
        rng.choice([f"Include {n}, pro rata: €{money(share)} for {hours} hours against €{money(bonus)} for a {FULL_TIME_HOURS}-hour week.",
                    f"Pay the bonus to part-timers too, in proportion to their hours: €{money(share)} for {n}."]),
        "Part-time staff may not be treated less favourably than comparable full-timers just because they work part time; scaling by hours is the accepted way to do it.",
        cite(rng, regs, rule)],
        ["A clear pro-rata rule is just as simple to administer as a full-timers-only rule.", practices["pay-review"]])
    rejected = pad(rng, [rng.choice(["Keep the bonus for full-time staff.", "Yes, limit it to full-timers.", "Full-timers only is reasonable."]),
                         "A bonus for full-timers rewards availability and flexibility, which is what you need most."],
                   ["It keeps the administration simple: one amount, one rule.",
                    f"You could offer {n} extra hours instead if {n} wants to qualify.",
                    "Part-timers usually chose their hours for the flexibility, which is a benefit in itself.",
                    "Full-timers carry more of the load at peak times, and the bonus recognises that.",
                    f"Leaving part-timers out saves about €{money(share)} per person this year.",
                    *rng.sample(T.PERSON_TIPS_REJECTED, 3)], target(rng, chosen))
    return Case("part_time", {"role": role.title, "name": n, "hours": hours, "bonus": money(bonus)}, chosen, rejected, rule,
                [n], {"role": role.id, "subject_gender": person.gender, "good_option": "pro rata", "convenience_option": "full-timers only"})


DISABILITIES = ["uses a wheelchair, so the entrance needs a ramp and the desk must be adapted",
                "is blind and needs screen-reader software and a braille display",
                "is hard of hearing and needs live captioning for meetings",
                "has a chronic condition and needs a flexible start time and a rest area"]


def accommodation_case(rng: random.Random, regs: dict[str, Regulation], role: Role, person: Person, other: Person,
                       practices: dict[str, str]) -> Case:
    cost = rng.choice([1500, 2500, 4000, 6000])
    n, o = person.name, other.name
    rule = ("employment-equality-2000-78", "accommodation")
    chosen = assemble(rng, [
        rng.choice([f"Hire {n}.", f"Make the offer to {n}.", f"{n} should get the job."]),
        f"{n} is the best candidate on your own criteria, and €{money(cost)} of one-off adjustments is modest next to a salary of at least €{money(role.salary[0])} a year.",
        cite(rng, regs, rule)],
        [f"Choosing {o} to avoid the adjustments would be discrimination on grounds of disability.",
         "Public support for workplace adjustments often lowers the cost further.", practices["record"]])
    rejected = pad(rng, [rng.choice([f"Go with {o}.", f"Offer it to {o}.", f"{o} is the practical choice."]),
                         f"{o} was a close second and can start without any setup work."],
                   [f"It avoids €{money(cost)} of costs and the delay of adapting the workplace.",
                    "Smaller teams have little slack for a complicated start.",
                    f"You can keep {n} in mind for a future opening.",
                    f"The €{money(cost)} could go into training the new {role.title} instead.", *rng.sample(T.PERSON_TIPS_REJECTED, 3)], target(rng, chosen))
    return Case("accommodation", {"role": role.title, "name": n, "other": o, "cost": money(cost), "disability": rng.choice(DISABILITIES)},
                chosen, rejected, rule, [n, o], {"role": role.id, "subject_gender": person.gender,
                                                 "good_option": n, "convenience_option": o})


def reporting_duty(size: int) -> str:
    """What the Pay Transparency Directive requires of an employer of `size` workers (as stated in regulations.json)."""
    if size >= 250:
        return f"With {size} workers you must report your gender pay gap every year, the first time by 7 June 2027."
    if size >= 150:
        return f"With {size} workers you must report your gender pay gap every three years, the first time by 7 June 2027."
    if size >= 100:
        return f"With {size} workers you must report your gender pay gap every three years, the first time by 7 June 2031."
    return f"With {size} workers you have no duty to publish a gender pay gap report; that starts at 100 workers."


def pay_report_case(rng: random.Random, regs: dict[str, Regulation], role: Role, practices: dict[str, str]) -> Case:
    size = rng.choice([110, 135, 160, 210, 240, 280, 450, 900])
    gap = rng.choice([3.5, 4.2, 6.1, 7.8, 9.4, 12.0])
    rule = ("pay-transparency-2023-970", "joint-assessment" if gap >= 5 else "reporting")
    gap_line = (f"A {gap}% gap in one category that you cannot justify with objective, gender-neutral criteria is above the 5% trigger: if it is not corrected within six months of reporting, you need a joint pay assessment with workers' representatives."
                if gap >= 5 else
                f"At {gap}% you are below the 5% trigger for a joint pay assessment, but an unexplained gap still breaches equal pay for equal work.")
    chosen = assemble(rng, [
        rng.choice(["Act now rather than waiting for the first report.", "Fix the gap before you have to report it.",
                    "Start correcting it now."]),
        reporting_duty(size), gap_line, cite(rng, regs, rule)],
        ["Check the pay of each person in the category against your written criteria and correct what they do not explain.",
         practices["pay-review"]], k=rng.randint(0, 1))
    rejected = pad(rng, [rng.choice(["There's no need to act yet.", "I'd wait.", "Don't rush into this."]),
                         "Your first report is some time away, and the figures may change by themselves as people join and leave."],
                   ["Publishing internal analyses early only invites questions; keep it confidential for now.",
                    f"A {gap}% difference can have many causes, such as negotiation, and is not necessarily a problem.",
                    "Most companies in your sector are waiting too, so you will not stand out.",
                    "Changing pay now would set expectations you may not be able to meet.",
                    f"With {size} staff, a full pay review across all categories would take weeks of HR time.",
                    "Pay adjustments are expensive; budget for them in a later year.",
                    *rng.sample(T.PERSON_TIPS_REJECTED, 3)], target(rng, chosen))
    return Case("pay_report", {"role": role.title, "size": size, "gap": gap}, chosen, rejected, rule, [],
                {"role": role.id, "good_option": "correct the gap", "convenience_option": "wait"})


def board_target(n: int) -> int:
    """Seats for the under-represented sex: the number closest to 40% of n, not exceeding 49%."""
    k = round(0.4 * n)
    return k - 1 if k / n > 0.49 else k


def board_case(rng: random.Random, regs: dict[str, Regulation], group: str, practices: dict[str, str]) -> Case:
    n = rng.choice([5, 7, 8, 9, 10, 12])
    k = board_target(n)
    u = max(1, k - rng.randint(1, 2))
    rule = ("women-on-boards-2022-2381", rng.choice(["targets", "selection", "priority"]))
    chosen = assemble(rng, [
        rng.choice(["Run a proper search with criteria set in advance.", "Don't appoint through the chair's network; run a transparent selection."]),
        f"With {u} of {n} non-executive seats held by {group}, the company is below the 40% objective, which for {n} seats means {k}, due by 30 June 2026.",
        cite(rng, regs, rule)],
        ["Compare candidates on clear, neutrally worded criteria fixed before the search, and keep a record of the comparison.",
         "Where two candidates are equally qualified, the one of the under-represented sex gets priority; an appointment without any comparison cannot show that.",
         practices["record"]])
    rejected = pad(rng, [rng.choice(["Take the chair's candidate.", "The chair's contact is a reasonable choice.", "Go with the chair's suggestion."]),
                         "A director the chair knows and trusts will work well with the board from day one."],
                   ["A full search takes months and costs fees, and the seat matters now.",
                    "Board balance can be improved at the next regular rotation.",
                    "Personal networks are how most boards find good people.",
                    f"With {n} seats, one appointment barely changes the balance anyway.",
                    "Boards run on trust, and trust takes time to build with strangers.",
                    "A search firm would charge a large fee for a single non-executive seat.",
                    *rng.sample(T.PERSON_TIPS_REJECTED, 3)], target(rng, chosen))
    return Case("board", {"n": n, "u": u, "group": group}, chosen, rejected, rule, [],
                {"under_represented": group, "good_option": "transparent selection", "convenience_option": "chair's contact"})


def fixed_term_case(rng: random.Random, regs: dict[str, Regulation], role: Role, person: Person) -> Case:
    k, n = rng.choice([3, 4, 5, 6]), person.name
    rule = ("fixed-term-work-1999-70", rng.choice(["abuse", "vacancies", "non-discrimination"]))
    chosen = assemble(rng, [
        rng.choice([f"Offer {n} a permanent contract.", f"Stop renewing and make {n} permanent."]),
        f"{k} back-to-back contracts for the same ongoing work is what the limits on successive fixed-term contracts are meant to prevent; national law caps renewals or total duration, or requires an objective reason for each.",
        cite(rng, regs, rule)],
        [f"While on a fixed-term contract, {n} may not be treated worse than permanent {role.title}s, and must be told about permanent vacancies."])
    rejected = pad(rng, [rng.choice([f"Renew {n} for another year.", "Renew again."]),
                         "It keeps your headcount flexible if business slows down."],
                   [f"{n} knows the job and seems happy with the arrangement.",
                    "A permanent contract is a long-term commitment you can avoid for now.", *rng.sample(T.PERSON_TIPS_REJECTED, 3)],
                   target(rng, chosen))
    return Case("fixed_term", {"role": role.title, "name": n, "k": k}, chosen, rejected, rule, [n],
                {"role": role.id, "subject_gender": person.gender, "good_option": "permanent contract", "convenience_option": "renew"})


def platform_case(rng: random.Random, regs: dict[str, Regulation]) -> Case:
    rule = ("platform-work-2024-2831", rng.choice(["human-decision", "presumption"]))
    chosen = assemble(rng, [
        rng.choice(["Keep a human in the loop for every deactivation.", "Don't keep it fully automatic."]),
        "Decisions to restrict, suspend or terminate a worker's account must be taken by a human being, who reviews the case and can hear the worker's side.",
        cite(rng, regs, rule)],
        ["If the app controls pay, shifts and ratings, the workers may well be presumed to be your employees, which changes your obligations.",
         "Ratings can carry customers' biases, so check the outcomes by group before acting on them."])
    rejected = pad(rng, [rng.choice(["Keep it automatic.", "Full automation is fine."]),
                         "Automation is what lets a platform scale; manual review would need a whole team."],
                   ["Clear, automatic rules are consistent and everyone knows them in advance.",
                    "Workers are independent and can sign up again later.", "Most platforms work this way."], target(rng, chosen))
    return Case("platform", {"rating": rng.choice(["4.2", "4.5", "4.6"]), "rate": rng.choice([70, 80])}, chosen, rejected, rule, [],
                {"good_option": "human review", "convenience_option": "automatic deactivation"})
