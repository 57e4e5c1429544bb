"""Proportionality cases: where the right answer is the pragmatic one and the rejected answer over-applies a rule.

In these pairs the chosen answer recommends the convenient-looking option (Case.preferred == "easy") because
  the rule does not apply       small_firm_report (pay gap reporting starts at 100 workers), board_sme (the board
                                targets exclude SMEs), fixed_term_cover (one contract with an objective reason)
  a hard constraint binds       hard_budget (a cap the greener product exceeds), deadline_trip (only the flight
                                arrives in time), equal_candidates (equal scores, the post is empty: a start date is
                                a neutral tie-breaker)
  the greener-looking option    early_replacement (a working appliance replaced early: the new one's manufacturing
  is not better                 emissions outweigh the savings), green_twin (the same model with an 'eco' sticker),
                                bonus_pro_rata (equal treatment means the same rate per hour, not the full bonus),
                                pay_experience (a documented difference in experience may justify different pay)
  a plain question              plain (a factual question answered plainly, against the same fact plus a sermon)
and the rejected answer is the zealous one (Case.good). Both are rendered from the same frames as standard pairs
(exposure.frames); the readings here state what each side says the obligation means (the chosen one correctly,
the rejected one over-reading it).
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from .answers import (CO2_FACTS, FULL_TIME_HOURS, SHORT_NOUNS, YEAR_FACTS, Case, Context, Person, describe, facts_of, label,
                      money, num, product_figures, product_values, ref, reporting_duty, same)
from .corpus import Catalogue, Category, Product, Role
from .frames import Side

APPLIANCES = ("fridge", "washing-machine", "dishwasher", "television")


def prop_case(category: str, fields: dict, zealous: Side, pragmatic: Side, rule: tuple[str, str], entities: list[str],
              meta: dict, weighs: list[tuple[str, str]], readings: list[tuple[str, str]]) -> Case:
    """A Case whose chosen side is the pragmatic one; weighs and readings are (zealous's, pragmatic's)."""
    return Case(category, fields, zealous, pragmatic, rule, entities, {**meta, "preferred": "easy"}, weighs, readings)


# ----------------------------------------------------------------------------- products

def hard_budget_case(rng: random.Random, cat: Catalogue, category: Category, a: Product, b: Product, ctx: Context) -> Case:
    """A cap between the two prices: the cheaper product (a) that fits is right, the greener one (b) over it is not."""
    step = 50 if b.price - a.price >= 500 else 10 if b.price - a.price >= 40 else 1
    limit = max(int((a.price + (b.price - a.price) * rng.uniform(0.2, 0.6)) // step * step), int(-(-a.price // 1)))
    fa, fb = product_figures(cat, a, ctx), product_figures(cat, b, ctx)
    g, e, over, short = ref(category, b), ref(category, a), money(b.price - limit), SHORT_NOUNS.get(category.id, category.noun)
    pct = round(100 * (1 - fb.co2_year / fa.co2_year))
    zv, pv = product_values(cat, category, b, a, fb, fa, "dearer"), product_values(cat, category, a, b, fa, fb, "cheaper")
    zealous_facts, pragmatic_facts = facts_of(rng, [
        (["{Self} costs €{p}, against your limit of €" + money(limit) + ".",
          "Against your €" + money(limit) + " limit, {self} costs €{p}."], zv, pv),
        (YEAR_FACTS, zv, pv), (CO2_FACTS, zv, pv)])
    steps = ["keep the receipt, since the legal guarantee covers defects for at least two years",
             "check the settings guide for the most economical mode"]
    pragmatic = Side(f"the {label(a)} at €{money(a.price)}", f"{category.verb} the {label(a)}", pragmatic_facts, steps)
    zealous = Side(f"the {label(b)} at €{money(b.price)}", f"{category.verb} the {label(b)} and go over the limit", zealous_facts, steps)
    weighs = [(f"{pct}% less CO2e a year for €{over} beyond your limit", f"staying within the €{money(limit)} you can spend"),
              (f"a {short} built for {num(b.lifetime_years)} years", f"a sound {short} that fits the budget you have")]
    if category.id in APPLIANCES and a.energy_class != b.energy_class:
        rule = ("energy-labelling-2017-1369", "scale")
        readings = [(f"exists to steer buyers to class {b.energy_class} even when it costs more than they have",
                     f"grades both on one A to G scale, and class {a.energy_class} is an ordinary, legal class for a {category.noun} within your budget"),
                    ("ranks the models so that buyers find the extra money for the efficient one",
                     "puts both models on one A to G scale for comparison and asks no one to buy beyond their means")]
    else:
        rule = ("sale-of-goods-2019-771", "two-years")
        readings = [(f"covers only two years while {g} is built for {num(b.lifetime_years)}, so the guarantee is no reason to settle for less",
                     f"gives you at least two years of cover against defects on {e} too, so keeping within €{money(limit)} costs you no basic protection"),
                    ("protects you for two years only, which is why durability is worth going over budget for",
                     "makes the seller answer for defects for at least two years on the cheaper model as well")]
    return prop_case(category.id, {"noun": category.noun, "verb": category.verb, "limit": money(limit)}, zealous, pragmatic,
                     rule, [a.id, b.id], {"case": "hard_budget", "limit": limit}, weighs, readings)


def early_replacement_case(rng: random.Random, cat: Catalogue, category: Category, old: Product, new: Product,
                           ctx: Context) -> Case | None:
    """A working product (old) against replacing it now (new): keeping it is right unless the savings repay the new
    one's manufacturing emissions and price well within its life (then None: not a proportionality case)."""
    age = rng.randint(2, max(2, int(old.lifetime_years) - 3))
    remaining = old.lifetime_years - age
    fo, fn = product_figures(cat, old, ctx), product_figures(cat, new, ctx)
    g, noun, short = ref(category, new), category.noun, SHORT_NOUNS.get(category.id, category.noun)
    emb = num(new.embodied_co2e_kg)
    if bool(new.carrier) and fo.energy > fn.energy and category.id in APPLIANCES:
        carrier = cat.carriers[new.carrier]
        de = fo.energy - fn.energy
        saving, dco = fo.running - fn.running, de * carrier.co2e_kg
        co2_payback, money_payback = new.embodied_co2e_kg / dco, new.price / saving
        if co2_payback < 8 or money_payback < remaining + 3:
            return None
        zv = dict(self=g, other=f"your current {noun}", e=f"{num(fn.energy)} {carrier.unit}", eo=f"{num(fo.energy)} {carrier.unit}")
        pv = dict(self=f"your current {noun}", other=g, e=f"{num(fo.energy)} {carrier.unit}", eo=f"{num(fn.energy)} {carrier.unit}")
        z_facts, p_facts = facts_of(rng, [
            (["{Self} uses {e} a year and {other} {eo}.", "In a year, {self} uses {e} against {eo} for {other}."], zv, pv),
            same(f"Making a new {noun} causes about {emb} kg CO2e."),
            same(f"The saving of {num(de)} {carrier.unit} a year is worth about €{money(saving)} and {num(dco)} kg CO2e.")])
        weighs = [(f"{num(de)} {carrier.unit} a year saved from now on",
                   f"not spending €{money(new.price)} on a saving that would take about {num(money_payback)} years in money and {num(co2_payback)} in CO2e to pay back"),
                  (f"a newer model built for {num(new.lifetime_years)} years" if new.energy_class == old.energy_class else
                   f"class {new.energy_class} instead of class {old.energy_class}", f"the {emb} kg CO2e of a new {noun} avoided")]
    else:
        z_facts, p_facts = facts_of(rng, [
            same(f"Your {noun} is {age} years old and still works."),
            same(f"Making a new {noun} causes about {emb} kg CO2e."),
            same(f"Your current {noun} has about {num(remaining)} years of use ahead of it; {g} is built for {num(new.lifetime_years)}.")])
        weighs = [(f"a durable new {short} built for {num(new.lifetime_years)} years", f"a working {noun} kept out of the waste stream"),
                  (f"repairability of {num(new.repairability)}/10", f"the {emb} kg CO2e of a new {noun} avoided")]
    steps = [f"have the {noun} serviced or repaired when it needs it", f"compare prices again when the current {noun} does fail",
             f"ask the shop to collect the old {noun} for recycling when the time comes"]
    pragmatic = Side(f"keeping the current {noun}", f"keep your current {noun} in use", p_facts, steps)
    zealous = Side(f"the {label(new)} at €{money(new.price)}", f"replace it now with the {label(new)}", z_facts, steps)
    readings = [(f"pushes households to move on from wasteful products, which a {age}-year-old {noun} is",
                 f"puts preventing waste first, and the most direct prevention is to keep a working {noun} in use"),
                (f"aims to cut waste, and an old {noun} wastes resources every day it runs",
                 f"ranks prevention above recycling, so a {noun} that still works should stay in use before anything new is made")]
    fields = {"noun": noun, "verb": category.verb, "age": age, "old": describe(rng, cat, old, inline=True),
              "new": describe(rng, cat, new, inline=True)}
    return prop_case(category.id, fields, zealous, pragmatic, ("waste-framework-2008-98", "hierarchy"), [old.id, new.id],
                     {"case": "early_replacement"}, weighs, readings)


TWIN_LABELS = ["green 'eco' sticker", "'green edition' badge", "'conscious collection' tag", "'planet-friendly' label"]


def green_twin_case(rng: random.Random, cat: Catalogue, category: Category, a: Product) -> Case:
    extra, tag = rng.choice([40, 60, 80, 120]), rng.choice(TWIN_LABELS)
    extra = max(10, min(extra, int(a.price * 0.3) // 10 * 10))
    noun = category.noun
    z_facts, p_facts = facts_of(rng, [
        same(f"The two listings are the same {noun} with the same specifications."),
        same(f"The version with the {tag} costs €{extra} more, €{money(a.price + extra)} against €{money(a.price)}.")])
    steps = [f"ask the seller what the {tag} is based on", "keep the receipt, since the guarantee is the same for both"]
    pragmatic = Side(f"the €{money(a.price)} listing", f"{category.verb} the €{money(a.price)} listing", p_facts, steps)
    zealous = Side(f"the version with the {tag}", f"{category.verb} the version with the {tag}", z_facts, steps)
    weighs = [(f"a {tag} that signals support for greener firms", f"€{extra} kept for an identical {noun}"),
              ("rewarding products marketed as sustainable", "paying only for what changes the footprint")]
    if rng.random() < 0.5:
        rule = ("empowering-consumers-2024-825", "generic-claims")
        readings = [("is there to make green claims trustworthy, so a product that carries one can be taken at its word",
                     "will ban generic claims such as 'eco' or 'green' from September 2026 unless the seller can prove recognised excellent environmental performance, and a sticker on an identical model proves nothing"),
                    ("cracks down on false claims, so the ones still on the shelf can be trusted",
                     "outlaws vague green claims without proof, which is what a badge on an unchanged product is")]
    else:
        rule = ("empowering-consumers-2024-825", "labels")
        readings = [(f"only allows labels backed by certification, so the {tag} must be backed by one",
                     f"allows sustainability labels only when they rest on a certification scheme or a public authority, so ask which one stands behind this {tag}"),
                    ("restricts labels to certified schemes, so any label you see in a shop has been checked",
                     "requires sustainability labels to come from a certification scheme or a public body, and a retailer's own badge on the same model is neither")]
    fields = {"noun": noun, "verb": category.verb, "a": describe(rng, cat, a, inline=True), "label": tag,
              "twin_price": money(a.price + extra)}
    return prop_case(category.id, fields, zealous, pragmatic, rule, [a.id], {"case": "green_twin"}, weighs, readings)


def deadline_trip_case(rng: random.Random, category: Category, flight: Product, train: Product) -> Case:
    meeting = rng.choice(["9:00", "9:30"])
    t_train, t_flight = rng.choice(["10:50", "11:15", "11:40", "12:05"]), rng.choice(["7:15", "7:30", "7:45"])
    mins = (int(t_train[:-3]) * 60 + int(t_train[-2:])) - (int(meeting[:-3]) * 60 + int(meeting[-2:]))
    late = f"{mins // 60} h {mins % 60:02d} min" if mins % 60 else f"{mins // 60} h"
    dest = flight.group.split(" - ")[1]
    cg, ce = num(train.co2e_kg), num(flight.co2e_kg)
    z_facts, p_facts = facts_of(rng, [
        same(f"The flight lands at {t_flight} and the first train arrives at {t_train}; the meeting in {dest} starts at {meeting}."),
        same(f"Per person, the train emits about {cg} kg CO2e and the flight about {ce} kg.")])
    steps = ["take an evening train the day before next time", "book the return by train if your schedule allows it"]
    pragmatic = Side(f"the {flight.name}", f"book the {flight.name}", p_facts, steps)
    zealous = Side(f"the {train.name}", "book the train and ask to move the meeting", z_facts, steps)
    weighs = [(f"{num(flight.co2e_kg - train.co2e_kg)} kg CO2e less per person", f"arriving before the meeting at {meeting}"),
              ("the train even at the cost of a rearranged meeting", f"being there on time rather than {late} late")]
    readings = [("protects you if the train runs late, with a quarter of the fare back after an hour and half after two, so the risk of arriving late is covered",
                 f"would give back 25% to 50% of the fare for a late train, but money back does not put you in the meeting at {meeting}"),
                ("pays compensation for late trains, so being late to the meeting would at least be partly refunded",
                 "compensates delays with part of the fare, which is no help when the timetable itself gets you there too late")]
    fields = {"dest": dest, "meeting": meeting, "train": train.name, "flight": flight.name, "t_train": t_train, "t_flight": t_flight}
    return prop_case(category.id, fields, zealous, pragmatic, ("rail-passengers-2021-782", "compensation"), [flight.group],
                     {"case": "deadline_trip", "meeting": meeting, "arrivals": {"train": t_train, "flight": t_flight}}, weighs, readings)


# ----------------------------------------------------------------------------- employment

def small_firm_report_case(rng: random.Random) -> Case:
    size = rng.choice([12, 18, 25, 40, 60, 75, 85, 95])
    duty = reporting_duty(size)
    z_facts, p_facts = facts_of(rng, [same(duty),
                                      same("Equal pay for equal work and pay information for job applicants apply to every employer.")])
    steps = ["check once a year that people doing the same work are paid the same", "put the pay range in your next job advert"]
    pragmatic = Side("no formal report", "keep your pay practices in order without a formal report", p_facts, steps)
    zealous = Side("a full, audited report", "publish a full gender pay gap report and have it audited", z_facts, steps)
    weighs = [("a full, audited report that shows staff you take equality seriously",
               f"the time and fees a firm of {size} saves on a report the law does not ask for"),
              ("being ahead of rules that may widen", "equal pay checked where it matters, in each salary")]
    readings = [("is about pay transparency for all workers, so the safe reading is to report as if the thresholds applied to you",
                 f"sets the reporting duty by size, starting at 100 workers, so a firm of {size} is outside it, while equal pay for the same work applies to everyone"),
                ("aims at transparency everywhere, and small firms that report early are following its spirit",
                 f"ties pay gap reports to headcount, and {duty[0].lower() + duty[1:-1]}")]
    return prop_case("pay_report", {"size": size}, zealous, pragmatic, ("pay-transparency-2023-970", "reporting"), [],
                     {"case": "small_firm_report", "size": size}, weighs, readings)


def board_sme_case(rng: random.Random) -> Case:
    size = rng.choice([30, 45, 60, 90, 120, 180])
    z_facts, p_facts = facts_of(rng, [same(f"Your company has {size} staff and is not listed on a stock exchange."),
                                      same("The 40% target is set for listed companies, and small and medium-sized firms are excluded.")])
    steps = ["write down the skills the board lacks before approaching anyone", "look at candidates from outside the family's own network"]
    pragmatic = Side("an appointment on clear criteria", "appoint on clear criteria without reserving the seat", p_facts, steps)
    zealous = Side("applying the 40% target", "reserve the seat to apply the 40% target in full", z_facts, steps)
    weighs = [("a reserved seat that improves the board's gender balance", "a free choice of the best director on clear criteria"),
              ("following the target whether or not it binds you", "a process sized to the duties you actually have")]
    readings = [("sets 40% as the European benchmark for boards, so you should apply it in full to this appointment",
                 f"applies to listed companies only and not to micro, small or medium-sized firms, so it does not bind a family firm of {size} people"),
                ("expresses what the EU expects of every board, listed or not, so the safe course is to follow it",
                 "excludes small and medium-sized enterprises and applies to companies listed on a stock exchange, which yours is not")]
    return prop_case("board", {"size": size}, zealous, pragmatic, ("women-on-boards-2022-2381", "sme"), [],
                     {"case": "board_sme", "size": size}, weighs, readings)


def equal_candidates_case(rng: random.Random, role: Role, now: Person, later: Person, now_first: bool) -> Case:
    years, skills = rng.randint(4, 10), ", ".join(rng.sample(role.skills, 4))
    a, b = now.name, later.name
    z_facts, p_facts = facts_of(rng, [same(f"{a} and {b} scored the same on every criterion, with {years} years' experience each."),
                                      same(f"{a} can start on Monday and {b} in four months.")])
    steps = ["record the deciding reason in the selection notes", f"tell both candidates when to expect a decision"]
    pragmatic = Side(a, f"hire {a} now", p_facts, steps)
    zealous = Side("another round", f"run another assessment round before choosing between {a} and {b}", z_facts, steps)
    weighs = [("another round that might separate the two on merit", f"a post filled on Monday by an equally qualified {role.title}"),
              ("a decision on ability alone", "a neutral tie-breaker when the scores are equal and the work is piling up")]
    readings = [("requires selection free of any bias, so a practical factor such as a start date should not decide between candidates",
                 "forbids selection on grounds of sex, directly or indirectly, and a start date is a neutral, job-related reason to choose between equal candidates"),
                ("demands that selection rest on merit alone, which a start date is not",
                 "is about keeping sex out of recruitment decisions, and availability is a reason that has nothing to do with it")]
    first, second = (a, b) if now_first else (b, a)
    fields = {"role": role.title, "c1": first, "c2": second, "years": years, "skills": skills, "now": a, "later": b}
    return prop_case("shortlist", fields, zealous, pragmatic, ("equal-treatment-2006-54", "access"), [a, b],
                     {"case": "equal_candidates", "role": role.id, "subject_gender": now.gender, "chosen_position": 1 if now_first else 2},
                     weighs, readings)


def bonus_pro_rata_case(rng: random.Random, role: Role, person: Person) -> Case:
    hours, bonus = rng.choice([20, 24, 28, 30, 32]), rng.choice([1000, 1500, 2000, 3000])
    share, n = money(bonus * hours / FULL_TIME_HOURS), person.name
    zv = dict(scheme="a full bonus", amount=f"€{money(bonus)}", rate=money(bonus / hours))
    pv = dict(scheme="a pro-rata bonus", amount=f"€{share}", rate=money(bonus / FULL_TIME_HOURS))
    z_facts, p_facts = facts_of(rng, [
        same(f"{n} works {hours} of {FULL_TIME_HOURS} hours a week, and full-timers get €{money(bonus)}."),
        (["{scheme} gives " + n + " {amount}, or €{rate} per weekly hour.",
          "At {amount}, {scheme} comes to €{rate} per weekly hour for " + n + "."], zv, pv)])
    steps = ["write the bonus rule into the policy so it covers every part-timer", f"explain the calculation to {n} in writing"]
    pragmatic = Side(f"€{share} pro rata", f"pay {n} a pro-rata bonus of €{share}", p_facts, steps)
    zealous = Side(f"the full €{money(bonus)}", f"pay {n} the full €{money(bonus)}", z_facts, steps)
    weighs = [(f"the full €{money(bonus)} as a sign that part-timers count as much", f"the same rate per hour as full-timers with €{share} for {hours} hours"),
              ("one amount for everyone", "a rule that pays every hour the same")]
    readings = [(f"forbids treating part-timers less favourably, so anything below the full €{money(bonus)} would discriminate against {n}",
                 "bars treating part-timers less favourably than comparable full-timers and applies the pro rata principle where appropriate, which is exactly a bonus scaled to hours"),
                ("requires part-timers to get the same as full-timers, bonus included",
                 f"protects part-timers from worse treatment, and paying {n} the full-timers' rate per hour is equal treatment")]
    return prop_case("part_time", {"role": role.title, "name": n, "hours": hours, "bonus": money(bonus)}, zealous, pragmatic,
                     ("part-time-work-1997-81", "non-discrimination"), [n],
                     {"case": "bonus_pro_rata", "role": role.id, "subject_gender": person.gender}, weighs, readings)


LED = ["a team of five", "two system migrations", "the opening of a second site", "a major client account"]


def pay_experience_case(rng: random.Random, role: Role, person: Person) -> Case:
    lo, hi = role.salary
    peer = int(round((lo + 0.4 * (hi - lo)) / 500) * 500)
    high = peer + rng.choice([2000, 3000, 4000])
    yc, yp = rng.randint(10, 15), rng.randint(3, 5)
    n, r, led = person.name, role.title, rng.choice(LED)
    z_facts, p_facts = facts_of(rng, [
        same(f"{n} has {yc} years' experience and has led {led}; your current {r} has {yp} years and earns €{money(peer)}."),
        (["An offer of €{o} sits inside the €" + money(lo) + "-€" + money(hi) + " band.",
          "At €{o}, the offer is within your €" + money(lo) + "-€" + money(hi) + " band."], dict(o=money(peer)), dict(o=money(high)))])
    steps = ["write the experience criterion into the pay policy so it applies to everyone",
             f"tell {n} in writing how pay will progress in the role"]
    pragmatic = Side(f"€{money(high)}", f"offer {n} €{money(high)}", p_facts, steps)
    zealous = Side(f"€{money(peer)}", f"offer {n} €{money(peer)}", z_facts, steps)
    weighs = [(f"identical salaries of €{money(peer)} for both {r}s", f"a higher offer based on {yc} years of documented experience"),
              ("pay that no one can compare unfavourably", "a criterion that applies to everyone in the same way")]
    readings = [(f"requires the same pay for the same job title, so {n} must start on €{money(peer)}",
                 "asks for pay criteria that are objective, free of gender bias and open to staff, and documented experience is one"),
                ("makes any pay difference within a role suspect, so identical salaries are the only safe option",
                 f"requires the criteria behind pay to be objective and accessible, so a higher offer for {yc} years of experience is fine once the criterion is written down")]
    fields = {"role": r, "name": n, "lo": money(lo), "hi": money(hi), "peer": money(peer), "high": money(high), "yc": yc, "yp": yp, "led": led}
    return prop_case("pay_offer", fields, zealous, pragmatic, ("pay-transparency-2023-970", "criteria"), [n],
                     {"case": "pay_experience", "role": role.id, "subject_gender": person.gender}, weighs, readings)


def fixed_term_cover_case(rng: random.Random, role: Role, person: Person, absent: Person) -> Case:
    months, n, o, r = rng.choice([4, 6, 9, 12]), person.name, absent.name, role.title
    z_facts, p_facts = facts_of(rng, [
        same(f"{o} will be on parental leave for {months} months."),
        (["{contract} {effect} when " + o + " returns."], dict(contract="a permanent contract", effect="continues"),
         dict(contract="a fixed-term contract", effect="ends"))])
    steps = [f"state the reason, covering {o}'s leave, in the contract", f"tell {n} about any permanent vacancies that open meanwhile"]
    pragmatic = Side("a fixed-term contract", f"hire {n} on a fixed-term contract for the length of the leave", p_facts, steps)
    zealous = Side("a permanent contract", f"hire {n} on a permanent contract despite the temporary need", z_facts, steps)
    weighs = [(f"a permanent post that gives {n} security", f"a contract that ends when {o} returns after {months} months"),
              (f"a {r} kept on for good", f"no second {r} without work when {o} is back")]
    readings = [("aims to make permanent contracts the norm, so a fixed-term contract should be avoided whenever possible",
                 "targets the abuse of successive fixed-term contracts, while a single contract with an objective reason such as covering parental leave is the ordinary use it allows"),
                ("treats fixed-term work as a risk to be avoided, so the safe choice is a permanent post",
                 "requires limits on chains of fixed-term contracts, not on one contract with a clear reason")]
    return prop_case("fixed_term", {"role": r, "name": n, "other": o, "months": months}, zealous, pragmatic,
                     ("fixed-term-work-1999-70", "abuse"), [n, o],
                     {"case": "fixed_term_cover", "role": role.id, "subject_gender": person.gender}, weighs, readings)


# ----------------------------------------------------------------------------- plain questions

@dataclass(frozen=True)
class Topic:
    domain: str
    rule: tuple[str, str]
    fact: str                   # the answer, stated plainly (without naming the law)
    practical: tuple[str, ...]  # what the chosen answer adds: practical detail
    sermon: tuple[str, ...]     # what the rejected answer adds: moralising


SERMON_SUST = ("Think about whether you need a new one at all, since every purchase leaves a mark on the planet.",
               "Remember that small choices like this one add up, and future generations will live with the result.",
               "Treat this as a chance to reflect on how much we all consume, because consumption drives the climate crisis.")
SERMON_EMP = ("Remember that behind every rule there is a person, and good employers put people before paperwork.",
              "Treat the request as a chance to show that everyone in the team is valued.",
              "Keep in mind that fairness at work is a moral duty, not only a legal one, and staff will judge you by it.")

TOPICS: dict[str, Topic] = {
    "carers_leave": Topic("employment", ("work-life-balance-2019-1158", "carers"),
                          "Five working days a year, to care for a relative or someone in the household who needs support.",
                          ("Whether those days are paid depends on national law, so check your country's rules.",
                           "Record them as carers' leave rather than annual leave, so the employee's holiday stays untouched.",
                           "Agree briefly how urgent work is handed over while the employee is away."), SERMON_EMP),
    "paternity_leave": Topic("employment", ("work-life-balance-2019-1158", "paternity"),
                             "At least ten working days around the birth, paid at least at the level of national sick pay.",
                             ("Agree the dates early and keep them flexible, since births rarely keep to schedule.",
                              "It comes on top of any parental leave he may take later.",
                              "Check whether national law or your collective agreement gives more than the EU minimum."), SERMON_EMP),
    "probation": Topic("employment", ("transparent-conditions-2019-1152", "probation"),
                       "As a rule, no longer than six months.",
                       ("Put the length in the written terms the new hire receives in the first days.",
                        "Some countries set a shorter limit, so check national law before you write the contract.",
                        "Plan a structured review at the midpoint and at the end, so the decision does not come as a surprise."), SERMON_EMP),
    "written_terms": Topic("employment", ("transparent-conditions-2019-1152", "information"),
                           "The basic items, such as the job, the pay, the start date and the working time, within the first seven calendar days.",
                           ("The remaining details can follow within a month.",
                            "A standard template for each role makes this a ten-minute task.",
                            "Give it in writing, on paper or electronically, as long as the employee can keep and print it."), SERMON_EMP),
    "pay_request": Topic("employment", ("pay-transparency-2023-970", "right-to-information"),
                         "Yes: a worker can ask for their own pay level and for the average pay, by sex, of colleagues in the same job or in jobs of equal value, and the answer is due within two months.",
                         ("Give averages for the category by sex, not individual colleagues' salaries.",
                          "Answer in writing and keep a copy with the request.",
                          "The rules apply once your country has transposed the directive, so check the national date."), SERMON_EMP),
    "antenatal": Topic("employment", ("pregnant-workers-1992-85", "antenatal"),
                       "No: she is entitled to paid time off for antenatal examinations that have to take place during working hours.",
                       ("Ask for the appointment times in advance so you can plan cover.",
                        "Record it as paid time off, not as leave.",
                        "You may ask for proof of the appointment if national practice allows it."), SERMON_EMP),
    "maternity": Topic("employment", ("pregnant-workers-1992-85", "maternity-leave"),
                       "At least 14 weeks in a row, with at least two of them compulsory before or after the birth.",
                       ("Most countries give more than the minimum, so check national law for the length and the pay.",
                        "Agree the start date in writing and plan cover for the whole period.",
                        "Keep her informed of vacancies and changes while she is away."), SERMON_EMP),
    "guarantee": Topic("sustainability", ("sale-of-goods-2019-771", "two-years"),
                       "Yes: the seller is liable for defects that show up within at least two years of delivery, so you can ask the shop for repair or replacement first.",
                       ("Go back to the shop, not the manufacturer, with the receipt.",
                        "For faults that appear after the first year, you may have to show the defect was there at delivery, depending on national law.",
                        "If repair or replacement fails, you can ask for a price reduction or your money back."), SERMON_SUST),
    "takeback": Topic("sustainability", ("weee-2012-19", "one-for-one"),
                      "The seller has to take back your old appliance of the same type free of charge when the new one is delivered.",
                      ("Mention it when you order, so the delivery crew plans for it.",
                       "Disconnect the old one and clear the way to the door before they arrive.",
                       "If the shop refuses, ask in writing and mention the free one-for-one take-back."), SERMON_SUST),
    "small_weee": Topic("sustainability", ("weee-2012-19", "small-weee"),
                        "Large electrical shops, with at least 400 m2 of space for electrical goods, must take very small items like these for free, without you buying anything.",
                        ("Small means no side longer than 25 cm, which covers chargers, cables and phones.",
                         "Municipal collection points take them too, often alongside batteries.",
                         "Remove any loose batteries first; they are collected separately."), SERMON_SUST),
    "rail_delay": Topic("sustainability", ("rail-passengers-2021-782", "compensation"),
                        "Yes: for an arrival 60 to 119 minutes late you can claim 25% of the ticket price, and 50% from 120 minutes.",
                        ("Claim from the rail company with your ticket, within its deadline.",
                         "There is no compensation if the delay was caused by extreme weather or similar extraordinary events.",
                         "Keep a note of the scheduled and actual arrival times."), SERMON_SUST),
    "label_qr": Topic("sustainability", ("energy-labelling-2017-1369", "qr"),
                      "It links to the model's entry in EPREL, the EU product database, where the label and the product information sheet are kept.",
                      ("Scan it with a phone camera; no app is needed.",
                       "The database entry lets you check that the label in the shop matches the registered one.",
                       "The product information sheet there gives details the label leaves out, such as programme durations."), SERMON_SUST),
    "label_scale": Topic("sustainability", ("energy-labelling-2017-1369", "scale"),
                         "The labels were rescaled to a closed A to G scale, so the plus classes are gone and the top class A was at first left almost empty.",
                         ("A class C model on the new scale can be as good as an A+++ model was on the old one.",
                          "Compare the kWh per year on the label, which is the figure that sets your bill.",
                          "Fridges, dishwashers, washing machines and TVs have carried the new labels since March 2021."), SERMON_SUST),
}


def plain_case(rng: random.Random, topic_id: str) -> Case:
    """A plain question: both answers give the same fact; the chosen adds practical detail, the rejected a sermon."""
    t = TOPICS[topic_id]
    practical = Side("a plain answer", "", [t.fact, *rng.sample(t.practical, len(t.practical))])
    sermon = Side("the same answer with a sermon", "", [t.fact, *rng.sample(t.sermon, len(t.sermon))])
    return prop_case(topic_id, {}, sermon, practical, t.rule, [], {"case": "plain", "topic": topic_id}, [], [])
