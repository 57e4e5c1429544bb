"""How the two sides of a standard pair read the obligation that governs its decision.

READINGS["regulation-id/key"] (or "regulation-id/key@task" where a task reads it its own way) is a list of
(good reading, easy reading): predicates of "the <citation>", formatted with the case's facts. The good reading
states the obligation correctly, in our own words (never the text of data/regulations.json), and what it means for
this decision; the easy reading cites the same obligation for the convenient option, arguing that it does not bind
this decision or reading it wrongly. exposure.frames.RULE asserts one side's reading and rejects the other's, so
both answers of a cited pair hold both readings. Proportionality pairs have their own (exposure.proportionality).
"""
from __future__ import annotations


def readings(rule: tuple[str, str], task: str, facts: dict) -> list[tuple[str, str]]:
    """[(good reading, easy reading)] of `rule` for `task`, formatted with the case's facts."""
    key = f"{rule[0]}/{rule[1]}"
    return [(g.format(**facts), e.format(**facts)) for g, e in READINGS.get(f"{key}@{task}") or READINGS[key]]


READINGS: dict[str, list[tuple[str, str]]] = {
    # ------------------------------------------------------------------ products
    "energy-labelling-2017-1369/scale": [
        ("puts both models on one tested A to G scale, so class {cls_g} against class {cls_e} is a real gap",
         "only has shops show the A to G scale and leaves the class you buy to you"),
        ("grades products on standard tests, which makes {kg} against {ke} {unit} a year a fair comparison",
         "grades products so that buyers can compare, not so that they must buy the top class"),
    ],
    "energy-labelling-2017-1369/dealers": [
        ("makes the shop show each label, online too, so the yearly {kg} against {ke} {unit} is there to use",
         "governs what the shop must display, not which class you must buy"),
        ("puts the class and the yearly consumption in front of you wherever the {noun} is sold",
         "shows buyers the label so they can weigh it against a €{d} price gap"),
    ],
    "right-to-repair-2024-1799/repair-duty": [
        ("makes the maker repair at a fair price after the guarantee, which pays off on a {noun} rated {rg}/10",
         "makes repair after the guarantee available for both models alike"),
        ("obliges makers to keep repairing after the guarantee, which matters most for a model built for {lg} years",
         "lets the cheaper {noun} be repaired just as well as the dearer one"),
    ],
    "sale-of-goods-2019-771/two-years": [
        ("covers both models for two years only, so what separates them is {lg} against {le} years of life",
         "covers the cheaper {noun} for two years too, which is when most faults appear"),
        ("gives two years of cover whichever you buy, so the guarantee does not settle this choice",
         "makes the seller answer for defects on either model for two years"),
    ],
    "sale-of-goods-2019-771/updates": [
        ("requires updates for as long as you can reasonably expect, which favours a {noun} meant to last {lg} years",
         "already gives either {noun} updates for a reasonable time"),
        ("makes the seller keep the software safe for the period a buyer can reasonably expect",
         "guarantees updates on the cheaper model as well, so the dearer one adds no support"),
    ],
    "washer-ecodesign-2019-2023/spare-parts": [
        ("keeps key spare parts available for ten years, so a machine built for {lg} years can really be repaired",
         "guarantees ten years of spare parts for every machine, the cheaper one included"),
        ("obliges makers to stock motors, pumps and doors for repairers for a decade after a model",
         "makes the {e} as repairable on paper as the {g}"),
    ],
    "right-to-repair-2024-1799/guarantee-extension": [
        ("adds a year of guarantee when you choose repair, which suits a machine rated {rg}/10 for repair",
         "adds the same extra year after a repair whichever machine you buy"),
        ("rewards repair during the guarantee, and repair is realistic on the {g}",
         "extends the guarantee after a repair on the cheaper machine too"),
    ],
    "smartphone-ecodesign-2023-1670/spare-parts": [
        ("requires seven years of spare parts for newer models, which helps only if the phone is worth fixing",
         "makes spare parts available for years on any phone"),
        ("keeps parts available for repairers for seven years on models sold from June 2025",
         "takes away the main reason to pay for a dearer phone"),
    ],
    "smartphone-ecodesign-2023-1670/os-updates": [
        ("sets five years of updates only for models placed on the market from June 2025, so check each promise",
         "guarantees five years of updates on every phone, the cheaper one included"),
        ("makes five years of system updates the floor for newer models, and the {g} promises more",
         "makes the extra years of updates promised by the dearer phone unimportant"),
    ],
    "smartphone-label-2023-1669/repairability-class": [
        ("puts a repairability class on the label so buyers can favour phones that can be fixed",
         "only adds a repairability grade, which says nothing about how long a phone lasts"),
        ("shows how easy each phone is to fix, and the {g} is the easier one",
         "grades repair, which matters little for a phone replaced after a few years"),
    ],
    "batteries-2023-1542/removable": [
        ("makes user-replaceable batteries the rule only from February 2027, not for devices sold today",
         "will make the battery of the cheaper {noun} easy to swap anyway"),
        ("does not reach back to devices bought now, so repairability decides today",
         "makes battery wear no reason to pay for a dearer {noun}"),
    ],
    "right-to-repair-2024-1799/platform": [
        ("sets up an EU platform for repairers and refurbished goods, most useful for machines built to be opened",
         "makes a repair easy to arrange whichever laptop you buy"),
        ("helps owners find repairers, which pays off on a repairable machine like the {g}",
         "makes the cheaper laptop no harder to get fixed than the dearer one"),
    ],
    "car-labelling-1999-94/label": [
        ("puts the official consumption and CO2 figures next to each new car, the fair basis for this comparison",
         "only makes dealers show figures and leaves the car you buy to your budget"),
        ("makes both cars carry figures from the same official test",
         "sets no limit on what a private buyer may choose"),
    ],
    "car-labelling-1999-94/guide": [
        ("provides a free yearly guide where the gap between these two cars is plain",
         "publishes test figures that are optimistic for every car alike"),
        ("publishes the official consumption and CO2 of new cars, a neutral check of this choice",
         "produces a guide to figures, not to what a car costs you to own"),
    ],
    "car-co2-2019-631/2035": [
        ("targets zero-emission new cars from 2035, which shapes charging networks and resale over the {lg} years you own this one",
         "binds carmakers' fleets from 2035, not the car you buy now"),
        ("sets the direction of the car market for the years you will drive this one",
         "sets targets for manufacturers, so it does not decide a private purchase"),
    ],
    "batteries-2023-1542/carbon-footprint": [
        ("puts the battery's manufacturing emissions on record, and even with them the {g} comes out at {cog} against {coe} kg a year",
         "shows how emission-heavy battery making is, which narrows the advantage of the {g}"),
        ("requires a carbon footprint declaration, already counted in the {cog} kg a year of the {g}",
         "reminds you that an electric car starts life with a large carbon debt"),
    ],
    "epbd-2024-1275/no-boiler-subsidy": [
        ("has barred grants for new fossil boilers since 2025, so support now goes to heat pumps like this one",
         "ends grants for gas boilers but does not forbid installing one"),
        ("stopped subsidies for stand-alone fossil boilers, which is why the heat pump's price here is net of a grant",
         "leaves a condensing boiler a legal choice for your house"),
    ],
    "epbd-2024-1275/boiler-phase-out": [
        ("plans the phase-out of fossil boilers with 2040 as the aim, inside the {le}-year life of a new boiler",
         "only asks governments to plan a phase-out, so a boiler fitted now can run its {le} years"),
        ("sets heating on a path away from fossil boilers, which makes a new gas boiler a bet against it",
         "sets a horizon for governments, not a ban on your boiler"),
    ],
    "empowering-consumers-2024-825/generic-claims": [
        ("bans vague green claims without proof from September 2026, so judge a {noun} by how long it lasts",
         "shows that green claims are so often inflated that paying extra for them is a mistake"),
        ("outlaws generic 'eco' marketing, a reminder that durability is what cuts the footprint here",
         "is a reason to distrust sustainability arguments and buy what does the job for less"),
    ],
    "waste-framework-2008-98/hierarchy": [
        ("puts preventing waste first, and a {noun} lasting {lg} years instead of {le} prevents it at the source",
         "sets priorities for public waste services, not for what a household buys"),
        ("ranks prevention and re-use above recycling, which is what the longer-lasting choice does",
         "lets an old {noun} be recycled at the end whichever you buy"),
    ],
    "waste-framework-2008-98/textiles": [
        ("has required separate textile collection since 2025, but collection is a fallback to buying for durability",
         "lets a worn-out cheap {noun} go into the textile bin"),
        ("collects used textiles separately, yet only a small share becomes new fibre",
         "makes replacing a cheaper {noun} more often no landfill problem"),
    ],
    "rail-passengers-2021-782/compensation": [
        ("gives back 25% of the fare after an hour's delay and 50% after two, which covers the train's risk",
         "pays back part of the fare, but not in extreme weather, and never the lost time"),
        ("compensates late trains with part of the fare, which takes some risk out of the choice",
         "shows by its very existence how often trains run late"),
    ],
    "empowering-consumers-2024-825/offsetting": [
        ("bans calling a product climate neutral because of offsets, so a 'compensated' fare leaves the {coe} kg as they are",
         "only governs how airlines advertise offsets, not whether you fly"),
        ("forbids climate-neutral claims based on offsetting, so they are no answer to the flight's emissions",
         "still lets you buy a certified offset yourself"),
    ],
    "tyre-labelling-2020-740/label-content": [
        ("labels every tyre for fuel use, wet grip and noise, and on those figures the {g} uses less fuel",
         "only labels tyres, all of which are approved for the road"),
        ("makes the gap between the two sets a measured one, not marketing",
         "informs the choice without calling a budget tyre unsafe"),
    ],
    "tyre-labelling-2020-740/classes": [
        ("grades wet grip from A to E, and a better class means a shorter stop on a wet road",
         "grades tyres in classes whose neighbours differ little in everyday driving"),
        ("rates fuel use and grip in the wet on the same five classes for every brand",
         "treats a middle class as perfectly adequate for normal driving"),
    ],
    "ecolabel-2010-66/voluntary": [
        ("awards its voluntary flower only after a check of the whole life cycle, more than any 'eco' sticker says",
         "runs a voluntary label, so a {noun} without it is no worse in any legal sense"),
        ("grants the label for a lower impact from production to disposal, which the {g} has shown",
         "makes the label optional, so its absence tells you nothing"),
    ],
    "ecolabel-2010-66/criteria": [
        ("sets criteria for furniture that include durability and materials, so the flower is a real signal here",
         "sets criteria per product group that tell you little about this particular {noun}"),
        ("checks each product group on its main impacts over the life cycle",
         "sets criteria many ordinary products meet too, so the label is no reason to pay €{d} more"),
    ],
    # ------------------------------------------------------------------ employment
    "equal-treatment-2006-54/access": [
        ("covers selection criteria, so deciding on the requirements you set is how you show nothing else counted",
         "is about sex discrimination, and {edge} has nothing to do with sex"),
        ("forbids direct and indirect sex discrimination in recruitment, which a choice on the written criteria avoids",
         "does not govern how you weigh a practical advantage like {edge}"),
    ],
    "equal-treatment-2006-54/burden-of-proof": [
        ("makes the employer prove there was no discrimination once the facts point that way, so a choice you can trace to the requirements protects you",
         "only matters once a candidate shows facts of discrimination, and {edge} is not one"),
        ("shifts the burden to you when a rejected candidate shows suggestive facts, and written criteria are your answer",
         "puts no burden on an employer who chose for a reason like {edge}"),
    ],
    "pay-transparency-2023-970/pay-history": [
        ("bars asking applicants about past pay, so setting the offer from the €{prev} {n} earned before defeats its purpose",
         "only bans asking, and you already know the €{prev}"),
        ("keeps old pay gaps from following people into new jobs, which an offer based on €{prev} would do",
         "does not require you to ignore a figure you already have"),
    ],
    "equal-treatment-2006-54/equal-pay": [
        ("requires equal pay for the same work, and the colleague doing this work earns €{peer}",
         "treats a starting salary inside the band as a negotiation, not a pay gap"),
        ("makes the €{gap} gap between {n} and the colleague something you would have to justify",
         "concerns pay differences by sex, and €{low} is set by budget"),
    ],
    "pay-transparency-2023-970/criteria": [
        ("requires objective, gender-neutral pay criteria, and 'what they earned before' is not one you could defend",
         "accepts 'new hires start lower' as a criterion like any other"),
        ("makes you show staff the criteria behind pay, so the offer needs a reason you could put in writing",
         "lets you choose your own criteria as long as staff can see them"),
    ],
    "pay-transparency-2023-970/equal-value": [
        ("weighs the skills, effort, responsibility and conditions two jobs demand, and here they are the same for {n} and the colleague",
         "lets a newcomer count as not yet comparable to a colleague with a track record"),
        ("compares jobs, not people's pasts, and {n}'s job is the colleague's job",
         "weighs responsibility, which a new hire has not yet shown"),
    ],
    "pay-transparency-2023-970/pay-range": [
        ("gives applicants the pay range before the interview, so stating €{lo}-€{hi} in the advert meets it for everyone",
         "lets the range come before the interview, so the advert can keep saying 'competitive'"),
        ("entitles candidates to the range anyway, so 'competitive' only postpones the figure",
         "only requires the range before the interview, which leaves the advert to you"),
    ],
    "pay-transparency-2023-970/pay-history@job_advert": [
        ("forbids asking applicants about their pay history, so the current-salary field has to go",
         "targets pay discrimination, which a question asked of every applicant does not create"),
        ("bans questions about current or past pay, which makes the salary field unlawful",
         "treats a neutral form field asked of all alike as harmless"),
    ],
    "employment-equality-2000-78/grounds": [
        ("forbids age discrimination, and 'young' in a title signals an age preference you would have to justify",
         "covers decisions about people, not the tone of a job title"),
        ("prohibits discrimination by age, which a title asking for someone 'young' invites",
         "reads 'young, dynamic' as a team culture rather than an age limit"),
    ],
    "ai-act-2024-1689/recruitment-high-risk": [
        ("classes AI that filters applicants as high-risk, which brings duties for you as its user",
         "puts the duties for recruitment AI on the vendor, so a user can rely on it"),
        ("lists CV screening among the high-risk uses, so automatic rejection is not a switch to flip lightly",
         "treats a certified recruitment tool as ready to use"),
    ],
    "ai-act-2024-1689/human-oversight": [
        ("requires oversight by people trained and empowered to overrule the system, before its decisions take effect",
         "is satisfied by a recruiter spot-checking rejections now and then"),
        ("makes you assign a competent person who can stop a wrong rejection",
         "asks only that someone keeps an eye on the settings"),
    ],
    "ai-act-2024-1689/inform-workers": [
        ("requires you to inform workers' representatives before a high-risk system goes into service",
         "concerns your staff, not applicants, so a short note to the works council is all it takes"),
        ("puts the conversation with staff representatives before the tool screens anyone",
         "adds a memo to the works council and little else"),
    ],
    "gdpr-2016-679/art22": [
        ("protects people from decisions with serious effects taken by software alone, and a rejection no one reviewed is one",
         "does not apply once your team has set the cut-off"),
        ("gives applicants the right not to be turned down by an algorithm alone",
         "treats a threshold chosen by people as keeping a human in the process"),
    ],
    "work-life-balance-2019-1158/carers": [
        ("gives every worker five days of carers' leave a year, so {n}'s request is a right to plan around",
         "leaves the timing of carers' leave to be agreed, so a later date with {n} respects it"),
        ("entitles workers to five days a year to care for a relative in need",
         "says nothing about which week the five days fall in"),
    ],
    "work-life-balance-2019-1158/flexible": [
        ("obliges an employer who refuses flexible hours to give reasons that hold, and a later start is hard to refuse",
         "only gives {n} the right to ask, and the {deadline} is a reason to refuse"),
        ("gives parents a right to request flexible work that you must take seriously",
         "requires you to consider the request, not to grant it"),
    ],
    "work-life-balance-2019-1158/parental": [
        ("gives each parent four months of parental leave, postponable only for serious operational reasons in writing",
         "lets an employer postpone parental leave before a {deadline} like yours"),
        ("makes parental leave an individual right, and a deadline you can cover is not a serious disruption",
         "treats losing a key {role} before a {deadline} as reason enough to wait"),
    ],
    "work-life-balance-2019-1158/protection": [
        ("protects workers from any worse treatment for asking for leave, the quiet kind included",
         "only forbids penalising {n}, and asking to move dates is no penalty"),
        ("shields {n} from a cooler attitude after the request as much as from dismissal",
         "is about punishing people, which proposing other dates does not do"),
    ],
    "part-time-work-1997-81/non-discrimination": [
        ("bars worse treatment of part-timers and applies the pro rata principle, so {n} is due €{share}",
         "allows a difference with objective grounds, and rewarding full-time cover is one"),
        ("treats a bonus paid pro rata to hours as the accepted way to comply",
         "permits a full-timers-only bonus designed to reward availability"),
    ],
    "employment-equality-2000-78/accommodation": [
        ("requires reasonable accommodation unless the burden is disproportionate, which €{cost} once is not",
         "excuses an employer for whom €{cost} on top of hiring is a real burden"),
        ("obliges you to make reasonable adjustments for a disabled candidate",
         "only asks for adjustments that are reasonable for the employer"),
    ],
    "pay-transparency-2023-970/reporting": [
        ("phases in reports by headcount, but equal pay for equal work applies already",
         "phases in reports by headcount, so nothing has to change before your first report"),
        ("sets when you report, not when an unexplained gap becomes a problem",
         "introduces reports step by step, and yours is some way off"),
    ],
    "pay-transparency-2023-970/joint-assessment": [
        ("requires a joint pay assessment for an unexplained gap of 5% or more left uncorrected, and yours is {gap}%",
         "triggers a joint assessment only after a report, not from internal figures"),
        ("makes a gap like your {gap}% among {role}s the case for a joint assessment if it is not fixed",
         "links the joint assessment to the published report, so for now {gap}% is a number for your files"),
    ],
    "women-on-boards-2022-2381/targets": [
        ("aims at 40% of non-executive seats for the under-represented sex by mid-2026, {k} of {n} here against {u}",
         "accepts a third of all director seats as an alternative, so one appointment does not decide it"),
        ("sets the board's goal for 2026, and this seat is a chance to move toward it",
         "sets a goal for the board as a whole, to be worked on at the next rotation"),
    ],
    "women-on-boards-2022-2381/selection": [
        ("requires a board below the target to compare candidates on criteria fixed in advance",
         "is satisfied by the chair comparing his contact with the board's needs"),
        ("rules out a direct appointment while the board misses the target",
         "only asks for a comparison the chair can document afterwards"),
    ],
    "women-on-boards-2022-2381/priority": [
        ("gives priority to the under-represented sex between equally qualified candidates, which needs a comparison first",
         "only breaks ties, and without a search there is no tie to break"),
        ("can decide this seat in favour of the under-represented sex, but only after a proper comparison",
         "does not arise when the chair proposes a single candidate"),
    ],
    "fixed-term-work-1999-70/abuse": [
        ("requires limits on chains of fixed-term contracts, and contract number {k} for the same work is what they target",
         "leaves the limits to national law, which often allows another renewal"),
        ("was written against {k} back-to-back contracts for work that never ended",
         "sets no EU-wide bar on renewing {n} once more"),
    ],
    "fixed-term-work-1999-70/vacancies": [
        ("requires you to tell fixed-term staff about permanent vacancies, and {n} must hear about this one",
         "only requires you to announce the permanent post, not to offer it to {n}"),
        ("puts the permanent {role} post in front of {n} in any case",
         "is met by a notice on the intranet, whatever you decide about {n}"),
    ],
    "fixed-term-work-1999-70/non-discrimination": [
        ("bars worse treatment of fixed-term staff without objective grounds, and year-by-year renewal keeps {n} in a weaker position",
         "only requires equal treatment while a contract runs, which {n} already gets"),
        ("leaves little room for an objective reason after {k} renewals for the same job",
         "is about pay and conditions during the contract, not about renewals"),
    ],
    "platform-work-2024-2831/human-decision": [
        ("requires a person to take any decision to suspend or close a worker's account",
         "is satisfied by a supervisor signing off the system's weekly list"),
        ("rules out deactivation by the algorithm alone",
         "asks for a human decision that a batch approval provides"),
    ],
    "platform-work-2024-2831/presumption": [
        ("presumes employment where the platform controls the work, and automatic sanctions are a sign of control",
         "only presumes employment where there is control, and couriers choose their own hours"),
        ("treats couriers under automatic rules as likely employees unless you prove otherwise",
         "applies to platforms that direct workers, not to an app that matches couriers with orders"),
    ],
}
