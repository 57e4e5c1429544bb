"""Wording of the exposure prompts: personas and prompt templates (answers: exposure.frames, .answers, .proportionality).

Prompt templates are split by position (exposure.splits.template_split): reordering, adding or removing
templates changes which split they fall in.
"""

# ----------------------------------------------------------------------------- consumers

CONSUMERS = [
    "I'm a student sharing a flat in Lyon.",
    "We're a family of four in a semi-detached house near Utrecht.",
    "I'm a retired teacher living alone in Graz.",
    "I'm a nurse on night shifts, renting a small flat in Porto.",
    "We're a young couple who just bought an older house outside Brno.",
    "I run a small bed-and-breakfast in Galway.",
    "I'm a single parent with two teenagers in Turin.",
    "We're pensioners on a fixed income in Tampere.",
    "I work from home as a translator in Ljubljana.",
    "I'm a PhD student on a tight stipend in Leuven.",
    "We're a family of five in a farmhouse in Jutland.",
    "I'm a bus driver living in a suburb of Lisbon.",
    "I'm furnishing my first flat after graduating, in Kraków.",
    "We share a house with three friends in Ghent.",
    "I'm a self-employed plumber in Bilbao.",
    "I look after my elderly mother in our home in Thessaloniki.",
    "We're expecting our first child and live in Vienna.",
    "I'm a software tester renting in Tallinn.",
    "We own a small holiday flat in Split that we let out.",
    "I'm a farmer's wife managing the household budget near Debrecen.",
    "I'm a café owner in Bordeaux, buying for my own home.",
    "I'm a doctor with a long commute near Munich.",
    "We're a retired couple who spend winters in Valencia.",
    "I'm an engineering apprentice still living with my parents in Linz.",
]

SOFT_CONSTRAINTS = [
    "I want something that will last.",
    "Running costs matter to me as much as the price.",
    "I'd rather not have to replace it again soon.",
    "I don't mind paying a bit more if it makes sense.",
    "I'd like to keep our bills down.",
    "Reliability is important to me.",
    "I try to be careful with money.",
    "I want to make a sensible decision, not an impulse buy.",
    "",
]

BUDGETS = [
    "My budget is about €{budget}.",
    "I can spend up to €{budget}.",
    "I've set aside €{budget}.",
    "I'd like to stay under €{budget}.",
    "Budget: roughly €{budget}.",
]

SUSTAINABILITY_TEMPLATES = [
    "{persona} I need a new {noun} and narrowed it down to two:\n1) {o1}\n2) {o2}\n{budget} {context}Which one should I {verb}?",
    "Quick question: {o1}, or {o2}? {persona} {budget} {constraint}",
    "{persona} {context}Help me choose a {noun}. Option A: {o1}. Option B: {o2}. {constraint}",
    "Which is the better choice? The first option is {o1}; the second is {o2}. {budget} {persona}",
    "{persona} The shop has two that fit: {o1}, and {o2}. {constraint} {budget} What would you do?",
    "I have to {verb} a {noun} this week. Candidates:\n- {o1}\n- {o2}\n{persona} {context}{budget}",
    "Can you compare these for me? {o1} versus {o2}. {persona} {constraint}",
    "{persona} {budget} I keep going back and forth between {o1} and {o2}. Which should I {verb}?",
    "Advice needed. {persona} {context}Choice one: {o1}. Choice two: {o2}. {constraint} Which is the better deal?",
    "My partner wants {o1}; I'm looking at {o2}. {persona} {budget} Who's right?",
    "{persona} A salesperson showed me {o1} and {o2}. {constraint} Which would you recommend?",
    "{budget} {persona} I'm deciding between {o1} and {o2}. {context}What should I go for?",
    "Help me settle this: {o1} or {o2}? {constraint} {persona}",
    "{persona} Two offers for a {noun}:\n(a) {o1}\n(b) {o2}\n{context}Which one makes more sense?",
    "I'm comparing two options. {o1}. {o2}. {persona} {budget} Which should I {verb}?",
    "{persona} {constraint} Looking at {o1}, and also at {o2}. What's your advice?",
    "Which {noun} would you pick? {o1}, or {o2}. {persona} {context}{budget}",
    "{persona} I found {o1}. There's also {o2}. {budget} Is the second one worth it or not?",
    "Need a recommendation for a {noun}. {persona} Options: {o1}; {o2}. {constraint}",
    "{context}{persona} Between {o1} and {o2}, which would you {verb}? {budget}",
    "Could you help me decide? {persona} First: {o1}. Second: {o2}. {constraint} {budget}",
    "{persona} My friend says just get the cheaper one. The choice is {o1} or {o2}. {context}Your view?",
    "{budget} {constraint} {persona} Option 1 is {o1}; option 2 is {o2}. What do you suggest?",
    "I'm about to {verb} a {noun}. {persona} It's between {o1} and {o2}. {context}Any advice?",
    "{persona} Here are the two I'm considering:\n* {o1}\n* {o2}\n{budget} Which would you choose and why?",
    "Be honest: {o1} or {o2}? {persona} {constraint} {context}",
    "{persona} I'm trying to be practical about a {noun}. {o1}, versus {o2}. {budget}",
    "Which gives me better value overall: {o1}, or {o2}? {persona} {context}",
    "{persona} {budget} The two finalists: {o1} and {o2}. Please recommend one.",
    "Looking for a straight answer. {persona} {o1} or {o2}? {constraint}",
    "{persona} We're replacing our {noun}. Choice A: {o1}. Choice B: {o2}. {context}{budget} What do you recommend?",
    "Decision time on a {noun}: {o1}, or {o2}. {persona} {constraint} Which one?",
]

# ----------------------------------------------------------------------------- managers

MANAGERS = [
    "I'm the owner of a 40-person bakery chain.",
    "I'm an HR manager at a 300-person software company.",
    "I run a small engineering consultancy with 25 staff.",
    "I'm a team lead at a regional hospital.",
    "I manage the operations of a logistics firm with about 120 employees.",
    "I'm the founder of a growing e-commerce start-up.",
    "I'm the head of a secondary school.",
    "I run recruitment for a chain of pharmacies.",
    "I'm a department head at a mid-sized manufacturer.",
    "I'm the office manager at a family-owned accounting firm.",
    "I lead a customer service centre with 60 agents.",
    "I'm the managing director of a building contractor.",
    "I'm an HR business partner at an energy utility.",
    "I run a 15-person electrical installation company.",
    "I'm in charge of hiring at a municipal services company.",
    "I manage a sales team at a machinery distributor.",
    "I'm the deputy head of a grammar school.",
    "I manage a care home with 50 staff.",
]

# the roles each employer persona plausibly hires (role ids of data/catalogue.json); a case picks its role first
DATA, DEV, NURSE, ELEC, ACC, SALES, PM, CSL, ENG, MATHS, LOG, HR, PHARM, SITE = (
    "data-analyst", "software-developer", "nurse", "electrician", "accountant", "sales-representative", "project-manager",
    "customer-service-lead", "mechanical-engineer", "maths-teacher", "logistics-coordinator", "hr-generalist", "pharmacist",
    "site-manager")
PERSONA_ROLES = {
    "I'm the owner of a 40-person bakery chain.": (SALES, CSL, ACC, HR, LOG),
    "I'm an HR manager at a 300-person software company.": (DEV, DATA, PM, HR, CSL, SALES, ACC),
    "I run a small engineering consultancy with 25 staff.": (ENG, PM, DATA, ACC, SITE, ELEC),
    "I'm a team lead at a regional hospital.": (NURSE, PHARM, DATA, HR, ACC, LOG),
    "I manage the operations of a logistics firm with about 120 employees.": (LOG, DATA, CSL, ACC, HR, DEV, PM),
    "I'm the founder of a growing e-commerce start-up.": (DEV, DATA, CSL, LOG, SALES, PM, HR),
    "I'm the head of a secondary school.": (MATHS, HR, ACC, NURSE),
    "I run recruitment for a chain of pharmacies.": (PHARM, CSL, ACC, HR, LOG, SALES),
    "I'm a department head at a mid-sized manufacturer.": (ENG, ELEC, PM, LOG, DATA, SALES, ACC, HR),
    "I'm the office manager at a family-owned accounting firm.": (ACC, DATA, HR, CSL, DEV),
    "I lead a customer service centre with 60 agents.": (CSL, DATA, HR, SALES),
    "I'm the managing director of a building contractor.": (SITE, ELEC, ENG, PM, ACC, LOG),
    "I'm an HR business partner at an energy utility.": (ELEC, ENG, DATA, PM, CSL, ACC, DEV, HR, SITE),
    "I run a 15-person electrical installation company.": (ELEC, SITE, PM, ACC, CSL),
    "I'm in charge of hiring at a municipal services company.": (ELEC, ACC, HR, CSL, LOG, DATA, PM, NURSE),
    "I manage a sales team at a machinery distributor.": (SALES, CSL, LOG, ENG, ACC),
    "I'm the deputy head of a grammar school.": (MATHS, HR, ACC, DATA),
    "I manage a care home with 50 staff.": (NURSE, PHARM, HR, ACC),
    "I'm the HR director of a manufacturing group.": (ENG, ELEC, LOG, ACC, SALES, DATA, PM, HR),
    "I run HR for a regional retail chain.": (SALES, CSL, LOG, ACC, PHARM, HR),
    "I'm the finance director of an engineering firm.": (ENG, PM, ACC, DATA, SITE),
    "I handle payroll and HR at a logistics company.": (LOG, CSL, ACC, DATA, HR),
    "I'm the people lead at a software company.": (DEV, DATA, PM, CSL, SALES, HR),
    "I'm the HR manager of a hospital foundation.": (NURSE, PHARM, ACC, HR, DATA),
}


def personas_for(personas: list[str], role: str) -> list[str]:
    """The personas that plausibly hire `role` (all of them when none is mapped or none fits)."""
    fit = [p for p in personas if role in PERSONA_ROLES.get(p, (role,))]
    return fit or personas

# tasks whose prompt states facts a generic manager persona could contradict (size, listing, business model)
TASK_PERSONAS = {
    "pay_report": [
        "I'm the HR director of a manufacturing group.",
        "I run HR for a regional retail chain.",
        "I'm the finance director of an engineering firm.",
        "I handle payroll and HR at a logistics company.",
        "I'm the people lead at a software company.",
        "I'm the HR manager of a hospital foundation.",
    ],
    "board": [
        "I'm the company secretary of a listed manufacturer.",
        "I sit on the nomination committee of a listed retailer.",
        "I advise listed companies on governance.",
        "I'm the general counsel of a listed energy company.",
    ],
    "platform": [
        "I'm the operations lead at a delivery start-up.",
        "I'm the COO of a ride-hailing platform.",
        "I manage the courier fleet of an online grocery service.",
    ],
    "small_firm": [
        "I'm the managing director of our family firm.",
        "I run an engineering consultancy.",
        "I own a chain of three bakeries.",
        "I'm the office manager of a local accounting practice.",
    ],
}

EMPLOYMENT_TEMPLATES = {
    "shortlist": [
        "{persona} We're hiring a {role} and need: {needs}. Two finalists:\n1) {c1}\n2) {c2}\nWho should get the offer?",
        "Two candidates for our {role} opening. {c1}. {c2}. The job needs {needs}. {persona} Which one do I pick?",
        "{persona} Final round for a {role}. Requirements: {needs}.\n- {c1}\n- {c2}\nI have to decide today. Advice?",
        "Help me choose a {role}. {persona} Candidate A: {c1}. Candidate B: {c2}. Must-haves: {needs}.",
        "{persona} It's between {c1} and {c2} for the {role} job (needs {needs}). Who would you hire?",
        "We need a {role} ({needs}). {persona} Shortlist: {c1}; {c2}. Which candidate should we choose?",
        "{persona} Our hiring panel is split on a {role}. First: {c1}. Second: {c2}. The role requires {needs}. What do you recommend?",
        "Which {role} should I hire? {c1}, or {c2}. Key requirements: {needs}. {persona}",
        "{persona} I need to fill a {role} post quickly. Required: {needs}. Candidates: (a) {c1}; (b) {c2}. Your pick?",
        "Decision on a {role} hire. {persona} {c1}. {c2}. We listed {needs} as requirements. Who gets it?",
    ],
    "pay_offer": [
        "{persona} We're making an offer to {name} for a {role} position, advertised at €{lo}-€{hi}. {name} earned €{prev} in the last job. Our current {role} with similar experience earns €{peer}. Can we offer €{low_offer}?",
        "Salary question. {persona} {name} is joining as a {role} (band €{lo}-€{hi}). Previous salary: €{prev}. A colleague doing the same work earns €{peer}. Is €{low_offer} a fair offer?",
        "{persona} For our new {role}, {name}, I'm thinking of offering €{low_offer}, since that's already a raise on the €{prev} {name} earned before. Our other {role} gets €{peer}. The advert said €{lo}-€{hi}. Good idea?",
        "How much should we offer {name}? {persona} Role: {role}, advertised range €{lo}-€{hi}. Same-level colleague: €{peer}. {name}'s old salary: €{prev}. Finance suggests €{low_offer}.",
        "{persona} {name} accepted our {role} job in principle. Band €{lo}-€{hi}; existing {role} at the same level earns €{peer}; {name} mentioned €{prev} at the previous employer. What number should go in the offer letter? We were thinking €{low_offer}.",
    ],
    "job_advert": [
        "{persona} I'm writing a job advert for a {role}. I planned to call it '{fancy}', say 'competitive salary' and ask applicants for their current salary. Any suggestions?",
        "Can you review our plan for a {role} advert? Title '{fancy}', pay 'competitive', and a field for current salary on the form. {persona} The budget is €{lo}-€{hi}.",
        "{persona} We're advertising a {role} role (we can pay €{lo}-€{hi}). My draft says '{fancy} wanted, competitive package, tell us your current salary'. What should I change?",
        "Draft advert check. {persona} Role: {role}. Title: '{fancy}'. Salary line: 'competitive, depending on your current pay'. Budget €{lo}-€{hi}. Is this fine?",
    ],
    "ai_screening": [
        "{persona} We get about {n} applications for each {role} opening. A vendor offers an AI tool that ranks CVs and automatically rejects the bottom {pct}%. It would save {hours} hours per opening. Should we switch on the automatic rejections?",
        "Should we let an AI screen our {role} applicants? {persona} Roughly {n} CVs per vacancy; the tool would auto-reject {pct}% and save us {hours} hours each time.",
        "{persona} Our recruiters are swamped: {n} applications per {role} job. A screening tool promises to cut {hours} hours of work by rejecting the lowest-ranked {pct}% without review. Worth it?",
        "AI in hiring question. {persona} For {role} vacancies we receive ~{n} CVs. We're trialling software that filters out {pct}% automatically. Can we just turn it on fully? It saves {hours} hours.",
    ],
    "leave_request": [
        "{persona} {name}, one of our {role}s, has asked for {request}. We have a {deadline} in {weeks} weeks. Can I ask {name} to postpone?",
        "How should I handle this? {persona} {name} ({role}) requested {request}, right before our {deadline} in {weeks} weeks.",
        "{persona} {name} wants {request}. As a {role}, {name} is key to the {deadline} due in {weeks} weeks. Should I say no for now?",
        "Leave request from {name}, a {role}: {request}. {persona} The {deadline} is {weeks} weeks away. What do I do?",
    ],
    "part_time": [
        "{persona} {name} works {hours} hours a week as a {role}. We're paying a €{bonus} annual bonus to full-time staff. Can we leave part-timers like {name} out of it?",
        "Bonus question. {persona} Our {role} {name} is part time ({hours} h/week). Management wants the €{bonus} bonus for full-timers only. Is that OK?",
        "{persona} Should part-time staff get the annual bonus? {name}, a {role}, works {hours} hours a week; full-timers get €{bonus}.",
        "{persona} We're deciding the €{bonus} bonus. {name} ({role}, {hours} h per week) asked whether it applies to part-timers. I was going to say no. Thoughts?",
    ],
    "accommodation": [
        "{persona} The best candidate for our {role} job is {name}, who {disability}. The adjustments would cost about €{cost}. The runner-up, {other}, needs nothing. Should we take {other} instead?",
        "Hiring dilemma. {persona} {name} scored highest for the {role} role and {disability}; setting that up costs around €{cost}. {other} came second. Who should we hire?",
        "{persona} For a {role} post, {name} is our top scorer but {disability}, and adapting the workplace is quoted at €{cost}. Would it be simpler to hire {other}, the second-best?",
        "{persona} Top candidate for {role}: {name} ({disability}; about €{cost} of adjustments). Second: {other}. Which offer do we make?",
    ],
    "pay_report": [
        "{persona} We have {size} employees. Our internal numbers show a {gap}% gender pay gap among {role}s that we can't explain by job-related criteria. What do the new EU pay transparency rules mean for us?",
        "Pay gap question. {persona} Headcount: {size}. Among our {role}s the average pay gap between women and men is {gap}%, with no objective reason we can find. Do we need to act?",
        "{persona} With {size} staff, do we have to report our gender pay gap? It's {gap}% in the {role} category and we have no real explanation for it.",
        "{persona} Our HR analysis found a {gap}% unexplained pay gap between men and women working as {role}s. We employ {size} people. What should we do?",
    ],
    "board": [
        "{persona} I advise a listed company whose board has {n} non-executive directors, {u} of them {group}. One non-executive seat is opening. The chair wants to appoint a friend from his network. Any concerns?",
        "Board question. {persona} Of the {n} non-executive seats on our listed company's board, {group} hold {u}. For the vacancy, the chair suggests a former colleague without any search. Is that fine?",
        "{persona} A listed client has {u} {group} among its {n} non-executive directors and needs to fill one seat. The quickest route is the chair's own contact. Should they take it?",
        "{persona} Our listed company must replace a non-executive director. Current board: {n} non-executives, of whom {u} are {group}. What process should we follow?",
    ],
    "fixed_term": [
        "{persona} {name} has worked as a {role} for us on {k} consecutive one-year contracts. Should we just renew again for another year?",
        "Contract question. {persona} Our {role} {name} is on fixed-term contract number {k}, all back to back. Renewing keeps us flexible. OK to do it again?",
        "{persona} {name} ({role}) is finishing fixed-term contract number {k}, all of them back to back. A permanent {role} post is also opening. What should we do?",
    ],
    "platform": [
        "{persona} We run a food-delivery app. Couriers whose rating falls below {rating} are deactivated automatically. Should we keep it fully automatic?",
        "{persona} On our delivery platform, an algorithm suspends riders with low ratings and sets their shifts. Is full automation fine as we grow?",
        "{persona} Our ride-hailing platform auto-terminates drivers whose acceptance rate drops under {rate}%. Any reason to change that?",
    ],
}

# ----------------------------------------------------------------------------- proportionality prompts

BUDGET_REASONS = ["that's all the savings I have", "my landlord only reimburses up to that amount",
                  "it's a grant with a fixed amount", "the rest of this month's money is already spoken for",
                  "my insurance pays out exactly that", "it's what's left after the deposit on the flat"]

PROPORTIONALITY_TEMPLATES = {
    "hard_budget": [
        "{persona} I need a {noun} and I can spend at most €{limit}, not a cent more: {reason}. The options are {o1}, and {o2}. Which one should I {verb}?",
        "{persona} Hard limit of €{limit} for a new {noun}, because {reason}. Option 1: {o1}. Option 2: {o2}. What do you recommend?",
        "I can't go over €{limit} for a {noun}; {reason}. {persona} I'm choosing between {o1} and {o2}. Which one?",
        "{persona} Choosing a {noun}: {o1}, or {o2}. My ceiling is €{limit} and it is fixed, since {reason}. Your advice?",
        "Budget question. {persona} The absolute maximum I can pay for a {noun} is €{limit} ({reason}). Candidates:\n- {o1}\n- {o2}\nWhich should I {verb}?",
        "{persona} I have exactly €{limit} for a {noun} and no way to add to it: {reason}. Between {o1} and {o2}, what should I do?",
        "Need to {verb} a {noun} within €{limit}, strictly, as {reason}. {persona} First option: {o1}. Second: {o2}.",
    ],
    "early_replacement": [
        "{persona} Our {noun} is {age} years old and works fine: {old}. I'm tempted to replace it now with {new}. Is it worth it?",
        "Should I replace a {noun} that still works? {persona} Ours is {age} years old ({old}). The new one would be {new}.",
        "{persona} A salesperson says I should swap my {age}-year-old {noun} ({old}) for {new}. Good idea?",
        "{persona} Nothing is wrong with our {noun}, which is {age} years old: {old}. But {new} looks much better. Replace it now or wait?",
        "Is it smart to upgrade now? {persona} Current {noun}: {old}, {age} years old and working. Candidate: {new}.",
        "{persona} I keep reading that newer models are far better. Our {noun} is {age} years old and fine ({old}). Should I {verb} {new} now?",
    ],
    "green_twin": [
        "{persona} Two listings for the same {noun}: {a}, and the identical model with a {label} for €{twin_price}. Same specifications. Which should I {verb}?",
        "{persona} The shop sells {a}. Next to it is the same model with a {label} for €{twin_price}; the spec sheet is identical. Is the labelled one worth it?",
        "Same {noun}, two prices. {persona} Plain version: {a}. Version with a {label}: €{twin_price}, otherwise identical. Which one?",
        "{persona} I want to do the right thing. The {noun} I picked is {a}, but there's a version of the exact same model with a {label} for €{twin_price}. Should I pay for that one?",
        "Quick one: {a}, or the same thing with a {label} at €{twin_price}? {persona}",
        "{persona} Is a {label} worth paying extra for? Same {noun}, same specs: {a}, or €{twin_price} with the label.",
    ],
    "deadline_trip": [
        "{persona} I have to be at a meeting in {dest} at {meeting} tomorrow and cannot travel tonight. The first {train} arrives at {t_train}; the {flight} lands at {t_flight}. Which should I book?",
        "{persona} Meeting in {dest} tomorrow, {meeting} sharp, and I can only leave in the morning. Train: first arrival {t_train} ({train}). Flight: lands {t_flight} ({flight}). What do I book?",
        "Travel dilemma. {persona} I need to be in {dest} by {meeting} tomorrow; no way to go the evening before. The earliest {train} gets in at {t_train}, the {flight} at {t_flight}.",
        "{persona} I take the train whenever I can, but tomorrow I must be in {dest} for {meeting}. The first {train} only arrives at {t_train}; the {flight} is there at {t_flight}. Train or plane?",
        "Which should I book? {persona} Tomorrow's meeting in {dest} starts at {meeting}. The {flight} lands at {t_flight}, the first {train} arrives at {t_train}, and I can't leave today.",
        "{persona} Client meeting in {dest} at {meeting} tomorrow morning, leaving from home the same day. Options: the {flight}, landing {t_flight}, or the first {train}, arriving {t_train}.",
    ],
    "small_firm_report": [
        "{persona} We have {size} employees. Are we obliged to publish a report on our gender pay gap under the EU Pay Transparency Directive?",
        "{persona} Someone told me the new EU pay transparency rules mean we must publish our gender pay gap. We employ {size} people. Is that true?",
        "Pay gap reporting question. {persona} Headcount: {size}. What exactly do we have to publish, and when?",
        "{persona} With {size} staff, should we commission an external gender pay gap report this year to comply with EU rules?",
        "{persona} A consultant is offering us a gender pay gap audit 'required by the EU directive'. We have {size} employees. Do we need it?",
        "{persona} Our staff count is {size}. Does the EU pay transparency law oblige us to report our gender pay gap?",
    ],
    "board_sme": [
        "{persona} We're a family-owned company with {size} staff, not listed on any stock exchange. Do the EU 40% board targets bind us when we appoint a new director?",
        "{persona} We need a new director for our board. We're private, family-owned, {size} employees. Does the EU women-on-boards rule apply to us?",
        "Board appointment question. {persona} Unlisted family business, {size} people. Must we reserve the open board seat under the EU 40% target?",
        "{persona} Our company ({size} staff, no stock-exchange listing) is replacing a director. A colleague says EU law forces us to hit 40%. Does it?",
        "{persona} Private company, {size} employees, one board seat to fill. How do the EU gender targets for boards affect us?",
        "{persona} Does the EU directive on women on boards cover a non-listed family firm with {size} employees like ours? We're appointing a director next month.",
    ],
    "equal_candidates": [
        "{persona} Our only {role} left without notice and the work is piling up. Two finalists scored exactly the same in our structured interview: {c1} and {c2}, both with {years} years' experience and {skills}. {now} can start on Monday; {later} only in four months. Whom should we hire?",
        "{persona} Tie in our {role} hiring: {c1} and {c2} got identical scores on every criterion ({skills}; {years} years each). {now} is free to start next week, {later} in four months. The post has been empty for weeks. Who?",
        "Hiring tie-break. {persona} Two {role} candidates, {c1} and {c2}, equal on our scoring sheet and both with {years} years in {skills}. The difference: {now} can start immediately, {later} in four months. What should decide it?",
        "{persona} We must fill a vacant {role} post fast. {c1} and {c2} are equally qualified on paper and in interview ({years} years' experience, {skills}). {now} starts Monday if we say yes; {later} needs four months. Advice?",
        "{persona} Can availability decide between two equal {role} candidates? {c1} and {c2} scored the same; {now} can start right away, {later} after four months' notice. The team is overloaded.",
        "{persona} Our structured interview for a {role} ended in a dead heat between {c1} and {c2} ({years} years each; {skills}). {now} could begin on Monday, {later} only in four months. Which one do we pick?",
    ],
    "bonus_pro_rata": [
        "{persona} We're paying a €{bonus} annual bonus. {name} works {hours} hours a week as a {role}. A colleague says equal treatment means {name} must get the full €{bonus}. Is that right?",
        "{persona} Bonus time: full-timers get €{bonus}. {name}, a {role} on {hours} hours a week, asked whether part-timers get the same amount. What do we pay {name}?",
        "Part-time bonus question. {persona} {name} ({role}, {hours} h/week). Full-time bonus: €{bonus}. HR says anything less than the full amount is discrimination. Do we pay the full bonus?",
        "{persona} How should the €{bonus} bonus work for {name}, who works {hours} of 40 hours as a {role}? Someone on the team insists it has to be the full amount.",
        "{persona} {name} is a part-time {role} ({hours} hours). The yearly bonus is €{bonus} for full-timers. Full amount or pro rata for {name}?",
        "{persona} Our works council wants the full €{bonus} bonus paid to part-timers like {name} ({role}, {hours} hours a week). Are we obliged to?",
    ],
    "pay_experience": [
        "{persona} We're hiring a {role} (band €{lo}-€{hi}). The candidate, {name}, has {yc} years' experience and has led {led}; our current {role}, with {yp} years, earns €{peer}. I'd like to offer €{high}. HR says equal pay means we must offer exactly €{peer}. Who's right?",
        "{persona} Can we pay a new {role} more than an existing one? {name} has {yc} years' experience and led {led}; our current {role} has {yp} years and earns €{peer}. Band: €{lo}-€{hi}. I want to offer €{high}.",
        "Salary question. {persona} New {role}: {name}, {yc} years in the field, led {led}. Existing {role}: {yp} years, €{peer}. Advertised band €{lo}-€{hi}. Is an offer of €{high} allowed, or must it match €{peer}?",
        "{persona} Finance worries that offering {name} €{high} as a {role} breaks equal pay, because our current {role} earns €{peer}. {name} has {yc} years' experience against {yp} and has led {led}. The band is €{lo}-€{hi}.",
        "{persona} {name} would join as a {role} with {yc} years' experience, including leading {led}. Our other {role}: {yp} years, €{peer}. I'm thinking €{high}, within the €{lo}-€{hi} band. Problem?",
        "{persona} Equal pay question: must a newly hired {role} with {yc} years' experience get exactly what our {yp}-year {role} earns (€{peer})? I was going to offer {name} €{high}; band €{lo}-€{hi}.",
    ],
    "fixed_term_cover": [
        "{persona} {other} is going on {months} months of parental leave. We want to hire {name} as a {role} on a fixed-term contract to cover it. A colleague says fixed-term contracts are risky under EU law and we should offer a permanent one. Should we?",
        "{persona} To cover {other}'s {months}-month parental leave, we plan a fixed-term contract for {name}, a {role}. Is that allowed, or must it be permanent?",
        "Contract question. {persona} {name} would replace {other} ({role}) during {months} months of parental leave. Fixed-term or permanent?",
        "{persona} We need a temporary {role} while {other} is on parental leave for {months} months. {name} is our pick. Can we use a fixed-term contract?",
        "{persona} A friend who is a lawyer says we should avoid fixed-term contracts. We need someone to cover {other}'s {months} months of parental leave as a {role}, and {name} is available. What contract?",
    ],
}

# plain questions, per topic (exposure.proportionality.TOPICS); {noun} is an appliance where used
PLAIN_TEMPLATES = {
    "carers_leave": [
        "{persona} Quick question: how many days of carers' leave does an employee get per year under EU rules?",
        "How much carers' leave must we give a worker each year? {persona}",
        "{persona} One of my staff asked about carers' leave. What is the EU minimum per year?",
        "{persona} What's the annual entitlement to carers' leave in the EU?",
    ],
    "paternity_leave": [
        "{persona} How much paternity leave must we give a new father?",
        "What is the minimum paternity leave in the EU? {persona}",
        "{persona} One of our team is about to become a father. How many days of paternity leave is he entitled to?",
        "{persona} Quick check: paternity leave under EU rules, how long and is it paid?",
    ],
    "probation": [
        "{persona} How long can a probation period be for a new hire?",
        "What's the maximum probation period under EU rules? {persona}",
        "{persona} We're drafting a contract. Is there a limit on the length of the probation period?",
        "{persona} How long may the trial period in a new employment contract last?",
    ],
    "written_terms": [
        "{persona} When do we have to give a new employee their terms in writing?",
        "How soon must a new hire receive written terms of employment? {persona}",
        "{persona} Someone starts with us on Monday. What's the deadline for giving them the written details of the job?",
        "{persona} Is there an EU deadline for handing new staff their written job information?",
    ],
    "pay_request": [
        "{persona} An employee asked what colleagues doing the same work earn on average. Do we have to answer, and how fast?",
        "Do we have to tell a worker the average pay of colleagues in the same job? {persona}",
        "{persona} A staff member wants to know the average salary, by gender, for people in her role. Must we give it?",
        "{persona} Must we answer when a worker asks about average pay levels in her job, and by when?",
    ],
    "antenatal": [
        "{persona} Does a pregnant employee have to take leave for her antenatal appointments?",
        "Do antenatal check-ups during work hours come out of an employee's holiday? {persona}",
        "{persona} One of our staff is pregnant and has appointments during the working day. Does she use holiday for them?",
        "{persona} Quick question: does an employee need to book leave for antenatal appointments in working hours?",
    ],
    "maternity": [
        "{persona} What is the minimum maternity leave in the EU?",
        "How long is maternity leave at least under EU law? {persona}",
        "{persona} An employee told us she is pregnant. What is the shortest maternity leave EU rules allow?",
        "{persona} Minimum maternity leave across the EU: how many weeks?",
    ],
    "guarantee": [
        "{persona} My new {noun} broke after 14 months. Is the shop responsible?",
        "The {noun} I bought stopped working after a year and two months. Can I go back to the shop? {persona}",
        "{persona} Fourteen months after delivery our {noun} has a fault. Is the seller still responsible?",
        "{persona} Is a {noun} still covered by the seller after 14 months if it breaks by itself?",
    ],
    "takeback": [
        "{persona} The shop is delivering my new {noun} next week. What do I do with the old one?",
        "How do I get rid of my old {noun} when the new one arrives? {persona}",
        "{persona} Will the shop take away my old {noun} when they deliver the new one, and does it cost anything?",
        "{persona} We're replacing our {noun}. Do we have to take the old one to the tip ourselves?",
    ],
    "small_weee": [
        "{persona} Where can I drop off a dead phone charger and some old cables?",
        "What do I do with a broken electric toothbrush and a couple of old chargers? {persona}",
        "{persona} Can I hand in small old electronics, like cables and an old mouse, at an electronics shop without buying anything?",
        "{persona} I have a box of dead chargers and earphones. Where can they go?",
    ],
    "rail_delay": [
        "{persona} My train arrived 75 minutes late. Can I get money back?",
        "Do I get compensation when my train is over an hour late? {persona}",
        "{persona} Our train came in an hour and a half behind schedule yesterday. Is any of the fare refundable?",
        "{persona} What can I claim when a train in the EU arrives more than an hour late?",
    ],
    "label_qr": [
        "{persona} What is the QR code on the energy label of my new {noun} for?",
        "Why is there a QR code on the energy label? {persona}",
        "{persona} I noticed a QR code on the label of the {noun} in the shop. What does it lead to?",
        "{persona} Is the QR code on EU energy labels worth scanning?",
    ],
    "label_scale": [
        "{persona} What happened to A+++ on energy labels?",
        "Why don't I see A+++ appliances any more? {persona}",
        "{persona} The {noun} I like is only class C. Didn't labels use to go up to A+++?",
        "{persona} Energy labels seem to have changed. Where did the plus classes go?",
    ],
}
