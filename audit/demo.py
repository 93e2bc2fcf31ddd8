"""Demo databases whose figure tables reproduce the IOM thematic report's printed numbers.

``write_demo(folder)`` writes two audit databases:

* ``thematic.db``: the 60 cases of the joint thematic inspection (rubric
  ``iom-thematic-2019``) at the seven fieldwork sites;
* ``core.db``: the 3,308 cases of HMI Probation's 2018/2019 core programme
  (rubric ``hmip-core-2018``), 268 of them subject to IOM, with the covariates
  of section 5.3's logistic regression;
* ``survey.db``: the 50 respondents to the survey of Police and Crime
  Commissioners (rubric ``pcc-survey-2019``), from 39 police force areas.

Every count below is the report's (chapter 2's figure 2.2, chapters 2 to 5,
Annex 2). Where the report's numbers cannot all be true at once, the choice
made is explained in ``docs/report-inconsistencies.md``. Which case gets which
answer is decided by a seeded random generator, so two runs write the same
answers; the counts never depend on the seed.

Every case is checked with the engine before it is written: an answer to a
question that does not apply is a bug here, and raises.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from audit.counting import percent
from audit.engine import evaluate
from audit.errors import AuditError
from audit.rubric import Rubric, load_rubric_by_id
from audit.store import STATUS_COMPLETE, STATUS_IN_PROGRESS, NewCase, Store
from audit.values import coerce

SEED = 2019
THEMATIC_RUBRIC = "iom-thematic-2019"
CORE_RUBRIC = "hmip-core-2018"
THEMATIC_FILE = "thematic.db"
CORE_FILE = "core.db"
SURVEY_RUBRIC = "pcc-survey-2019"
SURVEY_FILE = "survey.db"
DEMO_FILES = (THEMATIC_FILE, CORE_FILE, SURVEY_FILE)

FACTORS = ("attitudes", "family", "thinking", "lifestyle", "drugs", "alcohol", "ete", "accommodation")


# --- sites and inspectors ------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    code: str
    prefix: str  # case references at this site start with it
    cases: int
    inspectors: tuple[str, ...]


#: Annex 2's seven fieldwork areas; 60 cases in all.
THEMATIC_SITES = (
    Site("waltham_forest", "WF", 9, ("jb", "ak")),
    Site("sheffield", "SH", 9, ("hm", "dp")),
    Site("stockport", "ST", 8, ("jb", "rw")),
    Site("colwyn_bay", "CB", 8, ("gl", "sh")),
    Site("cumbria", "CU", 9, ("hm", "nt")),
    Site("surrey", "SU", 9, ("ak", "ld")),
    Site("warwickshire", "WA", 8, ("dp", "rw")),
)

#: The core programme inspected all 21 CRCs and every NPS division (chapter 5.3).
CORE_CRCS = (
    "crc_bench", "crc_bgsw", "crc_cheshire_greater_manchester", "crc_cumbria_lancashire", "crc_dlnr",
    "crc_dorset_devon_cornwall", "crc_durham_tees_valley", "crc_essex", "crc_hampshire_iow", "crc_hlny",
    "crc_kent_surrey_sussex", "crc_london", "crc_merseyside", "crc_norfolk_suffolk", "crc_northumbria",
    "crc_south_yorkshire", "crc_staffordshire_west_midlands", "crc_thames_valley", "crc_wales",
    "crc_warwickshire_west_mercia", "crc_west_yorkshire",
)
CORE_NPS_DIVISIONS = (
    "nps_london", "nps_midlands", "nps_north_east", "nps_north_west", "nps_south_east_eastern",
    "nps_south_west_south_central", "nps_wales",
)
CORE_INSPECTORS = (
    "ab", "ac", "bd", "bh", "cf", "cm", "dh", "dw", "ef", "ej", "gk", "gr", "hb", "hl", "jc", "jm",
    "kp", "ks", "lb", "lw", "mf", "mo", "nd", "np", "pa", "pg", "rb", "rk", "sc", "sj", "tm", "vh",
)


# --- small helpers -------------------------------------------------------------------------


def yes_count_for(printed_percent: int, base: int) -> int:
    """The count nearest ``printed_percent`` of ``base`` whose rounded percentage is the printed one."""
    fits = [count for count in range(base + 1) if percent(count, base) == printed_percent]
    if not fits:
        raise ValueError(f"no count out of {base} rounds to {printed_percent}%")
    return min(fits, key=lambda count: (abs(count * 100 - printed_percent * base), count))


def dealt(rng: random.Random, counts: Sequence[tuple[Any, int]]) -> list[Any]:
    """Each value repeated its count, shuffled: a deck to deal out to cases."""
    deck = [value for value, n in counts for _ in range(n)]
    rng.shuffle(deck)
    return deck


def deal(rng: random.Random, answers: list[dict], cases: Sequence[int], question: str, counts: Sequence[tuple[Any, int]]) -> None:
    """Give ``cases`` the answers in ``counts`` (value None: left unanswered), in shuffled order."""
    deck = dealt(rng, counts)
    if len(deck) != len(cases):
        raise ValueError(f"{question}: {len(deck)} answers for {len(cases)} cases")
    for index, value in zip(cases, deck):
        if value is not None:
            answers[index][question] = value


def yes_no(yes: int, no: int, na: int = 0, unanswered: int = 0) -> list[tuple[Any, int]]:
    return [("yes", yes), ("no", no), ("na", na), (None, unanswered)]


def fill_columns(rng: random.Random, rows: Sequence[int], column_counts: dict[str, int]) -> dict[int, set[str]]:
    """Give each row a set of codes so that each code is held by exactly its count of rows and no row is empty.

    A row left empty takes a code from a row that holds two or more, so the
    column counts never change.
    """
    held: dict[int, set[str]] = {row: set() for row in rows}
    for code, count in column_counts.items():
        for row in rng.sample(list(rows), count):
            held[row].add(code)
    for row in rows:
        if held[row]:
            continue
        donors = [other for other in rows if len(held[other]) >= 2]
        donor = rng.choice(donors)
        code = rng.choice(sorted(held[donor]))
        held[donor].discard(code)
        held[row].add(code)
    return held


def in_order(codes: set[str]) -> list[str]:
    return [code for code in FACTORS if code in codes]


def seeded_uuid(rng: random.Random) -> str:
    return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True)
class Slot:
    """Where a case sits: its site, reference and inspector."""

    site: str
    case_ref: str
    inspector: str


def checked_case(rubric: Rubric, slot: Slot, answers: dict[str, Any], uuid: str) -> NewCase:
    """A NewCase whose every answer is valid and applies; complete unless a required answer is missing."""
    for qid, value in answers.items():
        if coerce(rubric.question(qid), value) != value:
            raise AssertionError(f"demo case {slot.case_ref}: {qid} = {value!r} is not a stored value")
    evaluation = evaluate(rubric, answers)
    if evaluation.stale:
        raise AssertionError(f"demo case {slot.case_ref}: answers to questions that do not apply: {evaluation.stale}")
    status = STATUS_IN_PROGRESS if evaluation.missing_required else STATUS_COMPLETE
    return NewCase(
        case_ref=slot.case_ref, site=slot.site, rubric=rubric, answers=answers, inspector=slot.inspector,
        uuid=uuid, status=status, evaluation=evaluation,
    )


# --- the thematic sample -------------------------------------------------------------------


def thematic_slots(rng: random.Random) -> list[Slot]:
    slots = []
    for site in THEMATIC_SITES:
        for number in range(1, site.cases + 1):
            slots.append(Slot(site.code, f"{site.prefix}{number:02d}", rng.choice(site.inspectors)))
    return slots


def thematic_answers(rng: random.Random, total: int = 60) -> list[dict[str, Any]]:
    """Answers for the 60 thematic cases; the numbers are the report's (chapter 4, 5.1, Annex 2)."""
    answers: list[dict[str, Any]] = [{} for _ in range(total)]
    everyone = list(range(total))
    non_statutory = rng.randrange(total)
    statutory = [i for i in everyone if i != non_statutory]  # 59

    # Three cases still have required gaps (missing data in the report's bases):
    # one without ethnicity and previous convictions (Annex 2's 81% and 55%),
    # one without the two assessment judgements (72% and 86%), one without the
    # reoffending judgement (figure 5.1's base of 58).
    gap_profile, gap_assessment, gap_outcome = rng.sample(statutory, 3)

    # Selection and allocation (4.1): lead professional in all 60; one non-statutory case led by the police.
    for i in everyone:
        answers[i]["lead_professional"] = "yes"
    answers[non_statutory].update(
        sentence_type="non_statutory", lead_agency="police", domestic_abuse="no",
        assessment_completed="no",  # he refused to comply
        complied="no", deselected="no",
    )
    deal(rng, answers, statutory, "sentence_type", [("community", 17), ("post_release", 42)])

    # Profile (figures 4.7, 4.8 and Annex 2): base 59.
    deal(rng, answers, statutory, "index_offence", [
        ("violence", 27), ("breach_order", 4), ("sexual", 2), ("burglary", 11), ("robbery", 2),
        ("theft", 6), ("drugs", 2), ("motoring", 3), ("other", 2),
    ])
    # 56 medium or high (Annex 2), two low (4.8), "almost 40 per cent" high or very high (chapter 1)
    deal(rng, answers, statutory, "rosh", [("low", 2), ("medium", 34), ("high", 22), ("very_high", 1)])
    for i in statutory:  # the NPS manages high risk of serious harm; CRCs the rest
        answers[i]["lead_agency"] = "nps" if answers[i]["rosh"] in ("high", "very_high") else "crc"
    # Annex 2: nobody aged 55 or over, so the 36-55 band stops at 54.
    bands = dealt(rng, [((18, 25), 14), ((26, 35), 23), ((36, 54), 22)])
    for i, (low, high) in zip(statutory, bands):
        answers[i]["age"] = rng.randint(low, high)
    deal(rng, answers, statutory, "gender", [("male", 53), ("female", 6)])
    profiled = [i for i in statutory if i != gap_profile]  # 58
    deal(rng, answers, profiled, "ethnicity", [("white", 47), ("mixed", 3), ("asian", 3), ("black", 4), ("other", 1)])
    convictions = dealt(rng, [((22, 75), 32), ((2, 21), 26)])
    for i, (low, high) in zip(profiled, convictions):
        answers[i]["previous_convictions"] = rng.randint(low, high)

    # Domestic abuse concerns in 33 of 60; always where the offence was breach of a restraining order.
    breach = [i for i in statutory if answers[i]["index_offence"] == "breach_order"]
    for i in breach:
        answers[i]["domestic_abuse"] = "yes"
    others = [i for i in statutory if i not in breach]
    deal(rng, answers, others, "domestic_abuse", yes_no(33 - len(breach), len(others) - (33 - len(breach))))

    # Reasons for registration: known in 43 of 59; explained (4.2) in "fewer than half" (chapter 4),
    # "half the cases" (summary): 29 of 59, only where the responsible officer knew them.
    deal(rng, answers, statutory, "ro_knew_reasons", yes_no(43, 16))
    knew = [i for i in statutory if answers[i]["ro_knew_reasons"] == "yes"]
    for i in statutory:
        answers[i]["reasons_explained"] = "no"
    deal(rng, answers, knew, "reasons_explained", yes_no(29, len(knew) - 29))

    # Assessment: completed in all 59 statutory cases.
    for i in statutory:
        answers[i]["assessment_completed"] = "yes"
    judged = [i for i in statutory if i != gap_assessment]  # 58
    deal(rng, answers, judged, "assessment_engaging", yes_no(42, 16))  # 72%
    deal(rng, answers, judged, "assessment_desistance", yes_no(50, 8))  # 86%
    factors = fill_columns(rng, statutory, {  # figure 4.3, base 59
        "attitudes": 26, "family": 25, "thinking": 49, "lifestyle": 34,
        "drugs": 39, "alcohol": 24, "ete": 4, "accommodation": 27,
    })
    for i in statutory:
        answers[i]["factors"] = in_order(factors[i])
    services = {  # figure 4.6: yes, no
        "attitudes": (10, 16), "family": (8, 17), "thinking": (19, 30), "lifestyle": (13, 21),
        "drugs": (17, 22), "alcohol": (11, 13), "ete": (3, 1), "accommodation": (19, 8),
    }
    for code, (yes, no) in services.items():
        deal(rng, answers, [i for i in statutory if code in factors[i]], f"services_{code}", yes_no(yes, no))
    deal(rng, answers, statutory, "assessment_partners", yes_no(31, 28))  # 4.4: just over half
    deal(rng, answers, statutory, "assessment_safety", yes_no(35, 24))  # 4.9

    # Planning.
    deal(rng, answers, statutory, "planning_engaging", yes_no(41, 18))  # 69%
    deal(rng, answers, statutory, "planning_reoffending", yes_no(44, 15))  # 4.5: three-quarters
    deal(rng, answers, statutory, "planning_iom_requirements", yes_no(21, 38))
    deal(rng, answers, statutory, "planning_roles", yes_no(24, 35))  # less than half
    deal(rng, answers, statutory, "planning_safety", yes_no(30, 27, na=2))  # 4.9

    # Delivery, licence and enforcement.
    deal(rng, answers, statutory, "supported_to_comply", yes_no(46, 13))  # more than three-quarters
    deal(rng, answers, statutory, "delivery_safety", yes_no(28, 27, na=4))  # 4.9
    post_release = [i for i in statutory if answers[i]["sentence_type"] == "post_release"]
    community = [i for i in statutory if answers[i]["sentence_type"] == "community"]
    for i in post_release:
        answers[i]["on_licence"] = "yes"
    # 47 on licence but only 42 post-release cases: five community cases were on licence too.
    deal(rng, answers, community, "on_licence", yes_no(47 - len(post_release), len(community) - (47 - len(post_release))))
    on_licence = [i for i in statutory if answers[i]["on_licence"] == "yes"]
    deal(rng, answers, on_licence, "recalled", yes_no(23, 24))
    recalled = [i for i in on_licence if answers[i]["recalled"] == "yes"]
    for i in recalled:  # a recalled service user did not comply
        answers[i]["complied"] = "no"
    not_recalled = [i for i in statutory if i not in recalled]
    deal(rng, answers, not_recalled, "complied", yes_no(29, len(not_recalled) - 29))  # 29 of 60

    # Reviewing and de-selection.
    deal(rng, answers, statutory, "review_sufficient", yes_no(33, 22, na=4))  # 33 of an applicable 55
    deal(rng, answers, statutory, "review_involved", yes_no(16, 43))
    deal(rng, answers, statutory, "review_safety", yes_no(25, 26, na=8))  # 4.9
    deal(rng, answers, statutory, "deselected", yes_no(7, 52))
    deselected = [i for i in statutory if answers[i]["deselected"] == "yes"]
    deal(rng, answers, deselected, "exit_strategy", yes_no(1, 6))

    # Figure 5.1: 20 of 58 reoffended, all among those who did not comply.
    judged_outcome = [i for i in statutory if i != gap_outcome]
    for i in judged_outcome:
        answers[i]["reoffended"] = "no"
    reoffenders = rng.sample([i for i in judged_outcome if answers[i]["complied"] == "no"], 20)
    # frequency: reduced 1, same 13, increased 6; seriousness: reduced 1, same 15, increased 4.
    # The one case whose frequency fell is the one whose seriousness fell.
    for rank, i in enumerate(reoffenders):
        answers[i]["reoffended"] = "yes"
        if rank == 0:
            answers[i].update(reoffending_frequency="reduced", reoffending_seriousness="reduced")
        elif rank <= 6:
            answers[i].update(reoffending_frequency="increased", reoffending_seriousness="increased" if rank <= 4 else "same")
        else:
            answers[i].update(reoffending_frequency="same", reoffending_seriousness="same")
    return answers


def thematic_cases(rubric: Rubric, seed: int = SEED) -> list[NewCase]:
    rng = random.Random(seed)
    slots = thematic_slots(rng)
    answers = thematic_answers(rng, len(slots))
    ids = random.Random(seed + 1)
    return [checked_case(rubric, slot, case_answers, seeded_uuid(ids)) for slot, case_answers in zip(slots, answers)]


# --- the core programme --------------------------------------------------------------------

CORE_TOTAL = 3308
CORE_IOM = 268
CORE_NOT_IOM = 2979
CORE_IOM_CRC = 173  # chapter 5.3: 173 CRC and 95 NPS cases subject to IOM

#: Figure 2.2: original principal offence of the IOM cases (266 of 268 recorded).
CORE_IOM_OFFENCES = {
    "violence": 76, "breach_order": 17, "sexual": 3, "burglary": 57, "robbery": 8, "theft": 70,
    "fraud": 3, "criminal_damage": 3, "drugs": 12, "motoring": 10, "other": 7,
}
#: Figure 4.3, core programme IOM cases (base 268).
CORE_IOM_FACTORS = {
    "attitudes": 156, "family": 120, "thinking": 214, "lifestyle": 202,
    "drugs": 218, "alcohol": 84, "ete": 47, "accommodation": 106,
}
#: Figure 4.6, core programme IOM cases: (yes, no); the rest of those with the factor are unanswered.
CORE_IOM_SERVICES = {
    "attitudes": (54, 99), "family": (44, 76), "thinking": (84, 127), "lifestyle": (78, 121),
    "drugs": (129, 87), "alcohol": (43, 38), "ete": (20, 26), "accommodation": (70, 35),
}
#: Figure 5.2: question -> (non-IOM percent, non-IOM base, IOM percent, IOM base).
CORE_FINDINGS = {
    "assessment_engaging": (71, 2976, 78, 268),
    "assessment_desistance": (68, 2978, 79, 268),
    "assessment_safety": (60, 2974, 69, 268),
    "planning_engaging": (66, 2967, 72, 267),
    "planning_reoffending": (66, 2968, 78, 268),
    "planning_safety": (52, 2401, 67, 235),
    "delivery_engaging": (74, 2971, 81, 268),
    "delivery_desistance": (55, 2962, 60, 266),
    "delivery_safety": (48, 2408, 63, 235),
    "review_compliance": (69, 2439, 79, 234),
    "review_desistance": (64, 2186, 74, 202),
    "review_safety": (49, 1658, 61, 166),
    "ro_desistance_relationships": (82, 1385, 88, 163),
    "ro_harm_relationships": (79, 1346, 89, 160),
}
RO_QUESTIONS = ("ro_desistance_relationships", "ro_harm_relationships")
#: Responsible officers interviewed: as many as the larger RO survey base in each column.
CORE_RO_INTERVIEWED = {"no": 1385, "yes": 163}

# Plausible shapes for answers the report does not print (non-IOM and unrecorded-status cases).
OTHER_OFFENCE_WEIGHTS = {
    "violence": 30, "breach_order": 5, "sexual": 8, "burglary": 6, "robbery": 3, "theft": 12,
    "fraud": 3, "criminal_damage": 4, "drugs": 9, "motoring": 8, "other": 12,
}
OTHER_FACTOR_RATES = {
    "attitudes": 0.50, "family": 0.45, "thinking": 0.75, "lifestyle": 0.50,
    "drugs": 0.45, "alcohol": 0.40, "ete": 0.30, "accommodation": 0.30,
}
OTHER_SERVICES_YES = 0.45
OTHER_NA_RATE = {  # share of "Not applicable" among non-IOM cases for the "in relevant cases" questions
    question: 1 - CORE_FINDINGS[question][1] / CORE_NOT_IOM
    for question in ("planning_safety", "delivery_safety", "review_compliance", "review_desistance", "review_safety")
}
OTHER_RO_INTERVIEWED = CORE_RO_INTERVIEWED["no"] / CORE_NOT_IOM


def finding_deck(question: str, printed_percent: int, base: int, group_size: int) -> list[tuple[Any, int]]:
    """Answers for one column of figure 5.2: yes and no to make the printed percentage of the
    printed base; the rest "Not applicable" for an "in relevant cases" question, otherwise unanswered."""
    yes = yes_count_for(printed_percent, base)
    rest = group_size - base
    if question in OTHER_NA_RATE:
        return yes_no(yes, base - yes, na=rest)
    return yes_no(yes, base - yes, unanswered=rest)


def core_slots(rng: random.Random, statuses: list[str | None]) -> list[Slot]:
    """Sites for the core cases: 173 of the IOM cases at CRCs and 95 in NPS divisions."""
    iom = [i for i, status in enumerate(statuses) if status == "yes"]
    at_crc = set(rng.sample(iom, CORE_IOM_CRC))
    inspectors = {site: rng.sample(CORE_INSPECTORS, 3) for site in CORE_CRCS + CORE_NPS_DIVISIONS}
    slots = []
    for index, status in enumerate(statuses):
        crc = index in at_crc if status == "yes" else rng.random() < 0.62
        site = rng.choice(CORE_CRCS if crc else CORE_NPS_DIVISIONS)
        slots.append(Slot(site, f"C{index + 1:04d}", rng.choice(inspectors[site])))
    return slots


def core_answers(rng: random.Random) -> tuple[list[str | None], list[dict[str, Any]]]:
    """IOM status and answers for the 3,308 core cases; IOM and non-IOM columns as the report prints them."""
    statuses = dealt(rng, [("yes", CORE_IOM), ("no", CORE_NOT_IOM), (None, CORE_TOTAL - CORE_IOM - CORE_NOT_IOM)])
    answers: list[dict[str, Any]] = [{} for _ in statuses]
    for i, status in enumerate(statuses):
        if status is not None:
            answers[i]["iom_status"] = status
    iom = [i for i, s in enumerate(statuses) if s == "yes"]
    not_iom = [i for i, s in enumerate(statuses) if s == "no"]
    unrecorded = [i for i, s in enumerate(statuses) if s is None]

    # Figure 2.2 (IOM) and a plausible spread for everyone else.
    deal(rng, answers, iom, "principal_offence", [*CORE_IOM_OFFENCES.items(), (None, CORE_IOM - sum(CORE_IOM_OFFENCES.values()))])
    codes, weights = zip(*OTHER_OFFENCE_WEIGHTS.items())
    for i in not_iom + unrecorded:
        answers[i]["principal_offence"] = rng.choices(codes, weights)[0]

    # Figures 4.3 and 4.6 (IOM).
    factors = fill_columns(rng, iom, CORE_IOM_FACTORS)
    for i in iom:
        answers[i]["factors"] = in_order(factors[i])
    for code, (yes, no) in CORE_IOM_SERVICES.items():
        holders = [i for i in iom if code in factors[i]]
        deal(rng, answers, holders, f"services_{code}", yes_no(yes, no, unanswered=len(holders) - yes - no))
    for i in not_iom + unrecorded:
        held = {code for code, rate in OTHER_FACTOR_RATES.items() if rng.random() < rate} or {"thinking"}
        answers[i]["factors"] = in_order(held)
        for code in answers[i]["factors"]:
            answers[i][f"services_{code}"] = "yes" if rng.random() < OTHER_SERVICES_YES else "no"

    # Figure 5.2: the responsible officer survey questions apply only where the RO was interviewed.
    for status, group in (("yes", iom), ("no", not_iom)):
        interviewed = CORE_RO_INTERVIEWED[status]
        deal(rng, answers, group, "ro_interviewed", yes_no(interviewed, len(group) - interviewed))
    for i in unrecorded:
        answers[i]["ro_interviewed"] = "yes" if rng.random() < OTHER_RO_INTERVIEWED else "no"
    for question, (p_not_iom, base_not_iom, p_iom, base_iom) in CORE_FINDINGS.items():
        for group, printed, base in ((not_iom, p_not_iom, base_not_iom), (iom, p_iom, base_iom)):
            cases = [i for i in group if question not in RO_QUESTIONS or answers[i]["ro_interviewed"] == "yes"]
            deal(rng, answers, cases, question, finding_deck(question, printed, base, len(cases)))
        for i in unrecorded:
            if question in RO_QUESTIONS and answers[i]["ro_interviewed"] != "yes":
                continue
            if question in OTHER_NA_RATE and rng.random() < OTHER_NA_RATE[question]:
                answers[i][question] = "na"
            else:
                answers[i][question] = "yes" if rng.random() < p_not_iom / 100 else "no"
    return statuses, answers


# --- section 5.3's covariates ---------------------------------------------------------------
#
# The report prints no numbers for them, only the regression's verdict: "In 8 of the 12
# questions, IOM status was an independent factor", and, of the two RO survey questions,
# only ro_harm_relationships. The demo gives IOM cases the profile IOM selects for (more
# post-release cases, a higher likelihood of reoffending) and makes the type of case, not
# IOM status, what lies behind the IOM column's better answers to the questions below.
# Which eight questions the report shaded is not in its text; docs/report-inconsistencies.md
# says which were chosen and why. Every count the figures print stays as it was: only which
# case of a column holds which answer changes.

#: Shares of each covariate's answers by IOM status (yes, no, not recorded); None: unanswered.
CORE_CASE_TYPE = {
    "yes": {"custody": 0.70, "community": 0.30},
    "no": {"custody": 0.40, "community": 0.60},
    None: {"custody": 0.45, "community": 0.55},
}
CORE_ROSH = {
    "yes": {"low": 0.10, "medium": 0.62, "high": 0.26, "very_high": 0.02},
    "no": {"low": 0.28, "medium": 0.50, "high": 0.19, "very_high": 0.03},
    None: {"low": 0.30, "medium": 0.50, "high": 0.18, "very_high": 0.02},
}
CORE_REOFFENDING_LIKELIHOOD = {  # not recorded in a few cases: those are left out of the model
    "yes": {"high": 0.60, "medium": 0.34, "low": 0.05, None: 0.01},
    "no": {"high": 0.25, "medium": 0.44, "low": 0.30, None: 0.01},
    None: {"high": 0.30, "medium": 0.40, "low": 0.20, None: 0.10},
}
#: Figure 5.2 questions whose IOM difference the type of case explains (IOM not an independent factor).
EXPLAINED_BY_CASE_TYPE = (
    "assessment_engaging", "planning_engaging", "delivery_engaging", "delivery_desistance",
    "ro_desistance_relationships",
)


def shares_deck(rng: random.Random, size: int, shares: dict[Any, float]) -> list[Any]:
    """``size`` answers in these shares (rounded; the first share takes the remainder), shuffled."""
    counts = {value: round(share * size) for value, share in shares.items()}
    first = next(iter(counts))
    counts[first] += size - sum(counts.values())
    return dealt(rng, list(counts.items()))


def core_covariates(rng: random.Random, statuses: list[str | None], answers: list[dict[str, Any]]) -> None:
    """Case type, RoSH level and likelihood of reoffending for every core case, by IOM status."""
    for status in ("yes", "no", None):
        group = [i for i, s in enumerate(statuses) if s == status]
        for question, shares in (("case_type", CORE_CASE_TYPE), ("rosh", CORE_ROSH),
                                 ("reoffending_likelihood", CORE_REOFFENDING_LIKELIHOOD)):
            for i, value in zip(group, shares_deck(rng, len(group), shares[status])):
                if value is not None:
                    answers[i][question] = value


def yes_by_case_type(question: str, yes: dict[str, int], sizes: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """How many of each IOM column's yes answers go to custody and to community cases.

    For a question in EXPLAINED_BY_CASE_TYPE, one rate for custody cases and one
    for community cases, shared by both columns, that give each column its printed
    count: within a type of case, IOM status makes no difference. Otherwise each
    column's own rate in both types: the type of case makes no difference.
    """
    out = {}
    if question in EXPLAINED_BY_CASE_TYPE:
        (c0, m0), (c1, m1) = ((sizes[s]["custody"], sizes[s]["community"]) for s in ("no", "yes"))
        det = c0 * m1 - c1 * m0
        rate_custody = (yes["no"] * m1 - yes["yes"] * m0) / det
        rate_community = (c0 * yes["yes"] - c1 * yes["no"]) / det
        for status in ("no", "yes"):
            custody = round(rate_custody * sizes[status]["custody"])
            out[status] = {"custody": custody, "community": yes[status] - custody}
        if not 0 <= rate_community <= 1 or not 0 <= rate_custody <= 1:
            raise AssertionError(f"{question}: no common rates by case type give the printed counts")
    else:
        for status in ("no", "yes"):
            base = sizes[status]["custody"] + sizes[status]["community"]
            custody = (2 * yes[status] * sizes[status]["custody"] + base) // (2 * base)
            out[status] = {"custody": custody, "community": yes[status] - custody}
    return out


def align_findings_with_case_type(rng: random.Random, statuses: list[str | None], answers: list[dict[str, Any]]) -> None:
    """Re-deal figure 5.2's yes and no answers within each IOM column and type of case.

    The cases answering each question, and each column's yes count, stay the
    same; only which of them said yes follows :func:`yes_by_case_type`.
    """
    for question in CORE_FINDINGS:
        strata: dict[str, dict[str, list[int]]] = {}
        for status in ("no", "yes"):
            answered = [i for i, s in enumerate(statuses) if s == status and answers[i].get(question) in ("yes", "no")]
            strata[status] = {kind: [i for i in answered if answers[i]["case_type"] == kind] for kind in ("custody", "community")}
        yes = {s: sum(answers[i][question] == "yes" for group in strata[s].values() for i in group) for s in strata}
        sizes = {s: {kind: len(group) for kind, group in strata[s].items()} for s in strata}
        for status, by_kind in yes_by_case_type(question, yes, sizes).items():
            for kind, count in by_kind.items():
                cases = strata[status][kind]
                if not 0 <= count <= len(cases):
                    raise AssertionError(f"{question}: {count} yes answers for {len(cases)} {kind} cases")
                deal(rng, answers, cases, question, yes_no(count, len(cases) - count))


def core_cases(rubric: Rubric, seed: int = SEED) -> list[NewCase]:
    rng = random.Random(seed)
    statuses, answers = core_answers(rng)
    slots = core_slots(rng, statuses)
    covariates = random.Random(seed + 2)  # its own stream: the answers above are dealt as before
    core_covariates(covariates, statuses, answers)
    align_findings_with_case_type(covariates, statuses, answers)
    ids = random.Random(seed + 1)
    return [checked_case(rubric, slot, case_answers, seeded_uuid(ids)) for slot, case_answers in zip(slots, answers)]


# --- the survey of Police and Crime Commissioners ------------------------------------------

#: The 43 police force areas of England and Wales: code -> name (the survey's sites).
POLICE_FORCE_AREAS = {
    "avon_somerset": "Avon and Somerset", "bedfordshire": "Bedfordshire", "cambridgeshire": "Cambridgeshire",
    "cheshire": "Cheshire", "city_of_london": "City of London", "cleveland": "Cleveland", "cumbria": "Cumbria",
    "derbyshire": "Derbyshire", "devon_cornwall": "Devon and Cornwall", "dorset": "Dorset", "durham": "Durham",
    "dyfed_powys": "Dyfed-Powys", "essex": "Essex", "gloucestershire": "Gloucestershire",
    "greater_manchester": "Greater Manchester", "gwent": "Gwent", "hampshire": "Hampshire", "hertfordshire": "Hertfordshire",
    "humberside": "Humberside", "kent": "Kent", "lancashire": "Lancashire", "leicestershire": "Leicestershire",
    "lincolnshire": "Lincolnshire", "merseyside": "Merseyside", "metropolitan": "Metropolitan Police",
    "norfolk": "Norfolk", "north_wales": "North Wales", "north_yorkshire": "North Yorkshire",
    "northamptonshire": "Northamptonshire", "northumbria": "Northumbria", "nottinghamshire": "Nottinghamshire",
    "south_wales": "South Wales", "south_yorkshire": "South Yorkshire", "staffordshire": "Staffordshire",
    "suffolk": "Suffolk", "surrey": "Surrey", "sussex": "Sussex", "thames_valley": "Thames Valley",
    "warwickshire": "Warwickshire", "west_mercia": "West Mercia", "west_midlands": "West Midlands",
    "west_yorkshire": "West Yorkshire", "wiltshire": "Wiltshire",
}
#: 39 of the 43 areas replied (chapter 2.2); "all the major conurbations except for Northumbria and the West Midlands".
SURVEY_SILENT_AREAS = ("northumbria", "west_midlands", "city_of_london", "wiltshire")
#: Annex 2: 36 responses at police force area level, 5 covering several local schemes, 9 London boroughs.
SURVEY_LONDON = ("metropolitan", 9)
SURVEY_MULTI_SCHEME = (("greater_manchester", 3), ("lancashire", 2))
SURVEY_TOTAL = 50
#: Figure 2.1: "Most commonly, IOM schemes delivered services to 201-500 offenders".
SURVEY_CASELOAD = {"up_to_50": 3, "51_100": 6, "101_200": 12, "201_500": 17, "501_1000": 6, "over_1000": 3, "not_known": 3}
#: Figure 3.1, of the 48 respondents who answered (67% is no count out of 50): housing 67%, substance misuse 58%,
#: registered social landlords 58%, peer mentoring 44%; the other three are not printed.
SURVEY_PARTNERS = {"housing": 32, "substance_misuse": 28, "social_landlords": 28, "peer_mentoring": 21,
                   "mental_health": 18, "employment": 25, "other": 9}
SURVEY_PARTNERS_ANSWERED = 48


def survey_slots() -> list[Slot]:
    """One slot per respondent, the site being the police force area it answered for."""
    multi = dict(SURVEY_MULTI_SCHEME)
    single = [code for code in POLICE_FORCE_AREAS
              if code not in SURVEY_SILENT_AREAS and code not in multi and code != SURVEY_LONDON[0]]
    sites = single + [SURVEY_LONDON[0]] * SURVEY_LONDON[1] + [code for code, n in SURVEY_MULTI_SCHEME for _ in range(n)]
    if len(sites) != SURVEY_TOTAL:
        raise AssertionError(f"survey: {len(sites)} respondents, not {SURVEY_TOTAL}")
    return [Slot(site, f"R{number:02d}", "") for number, site in enumerate(sites, start=1)]


def survey_answers(rng: random.Random, slots: list[Slot], partner_codes: list[str]) -> list[dict[str, Any]]:
    """Answers of the 50 respondents; the numbers are the report's (chapters 2, 3 and 5.2)."""
    answers: list[dict[str, Any]] = [{} for _ in slots]
    everyone = list(range(len(slots)))
    multi = dict(SURVEY_MULTI_SCHEME)
    for i, slot in enumerate(slots):
        level = ("london_borough" if slot.site == SURVEY_LONDON[0] else "multi_scheme" if slot.site in multi else "force_area")
        answers[i]["respondent_level"] = level
    deal(rng, answers, everyone, "caseload", list(SURVEY_CASELOAD.items()))
    deal(rng, answers, everyone, "colocated_police_probation", yes_no(35, 15))  # 35 (70 per cent)
    deal(rng, answers, everyone, "colocated_partners", yes_no(23, 27))  # 23 (46 per cent)
    deal(rng, answers, everyone, "priority_access", yes_no(42, 8))  # 42 (84 per cent); "eight others"
    answered = rng.sample(everyone, SURVEY_PARTNERS_ANSWERED)
    partners = fill_columns(rng, answered, SURVEY_PARTNERS)
    for i in answered:
        answers[i]["partners"] = [code for code in partner_codes if code in partners[i]]
    # most significant gap: housing (n=14), then mental health (n=10); three did not say
    deal(rng, answers, everyone, "biggest_gap", [("housing", 14), ("mental_health", 10), ("other", 23), (None, 3)])
    deal(rng, answers, everyone, "monitors_outcomes", yes_no(46, 3, unanswered=1))  # "Almost all (n=49) ... replied"
    return answers


def survey_cases(rubric: Rubric, seed: int = SEED) -> list[NewCase]:
    rng = random.Random(seed)
    slots = survey_slots()
    answers = survey_answers(rng, slots, rubric.question("partners").option_codes)
    ids = random.Random(seed + 2)
    cases = [checked_case(rubric, slot, case_answers, seeded_uuid(ids)) for slot, case_answers in zip(slots, answers)]
    for case in cases:
        case.inspector = None  # a survey response has no inspector
    return cases


# --- writing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    path: Path
    rubric_id: str
    cases: int
    sites: int
    complete: int

    @property
    def in_progress(self) -> int:
        return self.cases - self.complete


def existing_demo_files(folder: Path) -> list[Path]:
    """Demo databases (and their SQLite side files) already in ``folder``."""
    found = []
    for name in DEMO_FILES:
        for suffix in ("", "-wal", "-shm", "-journal"):
            path = folder / f"{name}{suffix}"
            if path.exists() or path.is_symlink():
                found.append(path)
    return found


def _write_one(final: Path, rubric: Rubric, cases: list[NewCase],
               then: Callable[[Store], None] | None = None) -> Written:
    """Write ``cases`` (and whatever ``then`` adds) to a temporary file beside ``final``, then move it into place."""
    temporary = final.with_name(f".{final.name}.writing-{uuidlib.uuid4().hex[:8]}")
    try:
        store = Store.open(temporary, create=True)
        try:
            by_inspector: dict[str, list[NewCase]] = {}
            for case in cases:
                by_inspector.setdefault(case.inspector or "demo", []).append(case)
            for inspector, group in by_inspector.items():
                store.insert_cases(group, who=inspector, reason="demo data")
            if then is not None:
                then(store)
        finally:
            store.close()
        for side in (final.with_name(final.name + "-wal"), final.with_name(final.name + "-shm")):
            side.unlink(missing_ok=True)  # a stale WAL beside a new file would corrupt it
        temporary.replace(final)
    except BaseException:
        for path in (temporary, temporary.with_name(temporary.name + "-wal"), temporary.with_name(temporary.name + "-shm")):
            path.unlink(missing_ok=True)
        raise
    complete = sum(1 for case in cases if case.status == STATUS_COMPLETE)
    return Written(final, rubric.id, len(cases), len({case.site for case in cases}), complete)


def _quality_demo(store: Store) -> None:
    from audit.demo_quality import add_quality_demo  # moderation sample and review under way (docs/quality.md)

    add_quality_demo(store)


#: what is added to a demo file after its cases, by file name
QUALITY_DEMO: dict[str, Callable[[Store], None]] = {THEMATIC_FILE: _quality_demo}


def write_demo(folder: str | Path, *, force: bool = False, seed: int = SEED,
               progress: Callable[[str], None] | None = None) -> list[Written]:
    """Write ``thematic.db``, ``core.db`` and ``survey.db`` into ``folder`` (created if missing).

    Refuses to replace existing demo databases unless ``force``.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AuditError(f"{folder}: is a file, not a folder; give a folder for the demo databases")
    existing = existing_demo_files(folder) if folder.is_dir() else []
    if existing and not force:
        named = [str(p) for p in existing if not p.name.endswith(("-wal", "-shm", "-journal"))] or [str(existing[0])]
        verb = "exists" if len(named) == 1 else "exist"
        raise AuditError(f"{' and '.join(named)} already {verb}; use --force to replace the demo databases, or choose another folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuditError(f"{folder}: cannot create the folder ({exc.strerror})") from None
    if force:
        for path in existing:
            if path.name.endswith(("-wal", "-shm", "-journal")):
                path.unlink(missing_ok=True)
    written = []
    for name, rubric_id, make in ((THEMATIC_FILE, THEMATIC_RUBRIC, thematic_cases), (CORE_FILE, CORE_RUBRIC, core_cases),
                                  (SURVEY_FILE, SURVEY_RUBRIC, survey_cases)):
        rubric = load_rubric_by_id(rubric_id)
        if progress:
            progress(f"writing {folder / name} ...")
        written.append(_write_one(folder / name, rubric, make(rubric, seed), QUALITY_DEMO.get(name)))
    return written

