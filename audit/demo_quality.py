"""The demo's quality assurance: a moderated sample of the thematic cases, and a review under way.

Added to ``thematic.db`` by :func:`audit.demo.write_demo`, through the same
code paths a quality lead uses (:func:`audit.moderation.draw_sample`, the case
service), so that ``make demo`` shows at once:

* a moderation sample (10% of each site's complete cases, at least one) marked
  by a second inspector, with a few disagreements of the kind moderation finds
  (judgements read differently from the same records, each with both notes),
  one applicability disagreement of each kind, and one copy still being
  marked (its inspector cannot see the original yet);
* a review in progress: a few cases approved, one returned to its inspector
  with a comment on one question, the rest in the review queue.

Nothing here changes a figure: moderation copies never count, and every status
counts in the default figures.
"""

from __future__ import annotations

from typing import Any

from audit.moderation import draw_sample
from audit.store import Store

QUALITY_LEAD = "ql"  # draws the sample and reviews
MODERATOR = "sh"  # an inspector from another site, marking blind
MODERATION_SEED = 2019
MODERATION_FRACTION = 0.1

#: the evidence notes each marker writes for a judgement, by the answer they gave
NOTES = {
    "reasons_explained": {
        "yes": "Pre-release visit with the police officer recorded; the IOM letter is on file.",
        "no": "The visit is recorded, but nothing shows IOM was explained or his views were sought.",
    },
    "assessment_partners": {
        "yes": "Police intelligence on associates is summarised in the assessment.",
        "no": "Only the PNC printout; nothing from the drug service or housing provider.",
    },
    "planning_roles": {
        "yes": "Police home visits and the drug worker's sessions are listed in the plan.",
        "no": "Plan written by the responsible officer alone; the police role is not stated.",
    },
    "planning_iom_requirements": {
        "yes": "Licence conditions and the IOM contact schedule are set out in the plan.",
        "no": "The plan repeats the licence conditions; nothing on what IOM requires of him.",
    },
}
#: what the second marker reads differently, case by case (the last copy is left unfinished)
SCRIPT = ("reasons_explained", "assessment_partners", "factors", "planning_roles", "review_sufficient",
          "planning_iom_requirements", None)
RETURN_COMMENT = ("The review of 12 September records a three-way meeting with the service user; please check "
                  "whether he was involved in reviewing his progress.")
RETURN_QUESTION = "review_involved"
APPROVED = 3


def _flip(value: str) -> str:
    return "no" if value == "yes" else "yes"


def _second_marking(question_id: str | None, first: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """(the second marker's answers, their notes, notes to add to the first marking) for one scripted difference."""
    answers = dict(first)
    notes: dict[str, str] = {}
    first_notes: dict[str, str] = {}
    if question_id in NOTES and question_id in first:
        answers[question_id] = _flip(first[question_id])
        first_notes[question_id] = NOTES[question_id][first[question_id]]
        notes[question_id] = NOTES[question_id][answers[question_id]]
    elif question_id == "factors" and "factors" in first:
        factors = set(first["factors"])
        if "alcohol" in factors:  # the second marker did not see alcohol linked to offending
            answers["factors"] = [f for f in first["factors"] if f != "alcohol"]
            answers.pop("services_alcohol", None)
            notes["factors"] = "Alcohol is mentioned, but the assessment does not link it to the offending."
        else:  # the second marker did: a services question applies to them alone
            answers["factors"] = [*first["factors"], "alcohol"]
            answers["services_alcohol"] = "no"
            notes["factors"] = "The assessment links alcohol to the index offence (section 9)."
            notes["services_alcohol"] = "No alcohol service was offered."
    elif question_id == "review_sufficient" and "review_sufficient" in first:
        if first["review_sufficient"] == "na":
            answers["review_sufficient"] = "no"
            notes["review_sufficient"] = "A review was due after the recall and none is recorded."
        else:
            answers["review_sufficient"] = "na"
            notes["review_sufficient"] = "No review was due yet: the licence began ten weeks before the case was read."
    return answers, notes, first_notes


def add_quality_demo(store: Store) -> None:
    """Moderate a sample of the thematic cases and start a review, in ``store`` (the new thematic.db)."""
    sample = draw_sample(store, fraction=MODERATION_FRACTION, seed=MODERATION_SEED, by="site", inspector=MODERATOR,
                         who=QUALITY_LEAD)
    moderator = store.service(MODERATOR)
    finished = []
    for drawn, difference in zip(sample.drawn, SCRIPT * len(sample.drawn)):
        original, copy = drawn.original, drawn.copy
        first = store.answers(original.uuid)
        if difference is None:  # still being marked: half the questions answered
            answers, notes, first_notes = dict(list(first.items())[: len(first) // 2]), {}, {}
        else:
            answers, notes, first_notes = _second_marking(difference, first)
        inspector = store.service(original.inspector)
        for qid, note in first_notes.items():  # the first marker's evidence, written before completing
            inspector.set_status(original.uuid, "in_progress")
            inspector.note(original.uuid, qid, note)
            inspector.set_status(original.uuid, "complete")
        rubric = store.rubric_for(copy)
        for qid in rubric.question_ids:  # in order, as the walk-through asks them
            if qid in answers and qid in moderator.load(copy.uuid).evaluation.applicable:
                moderator.answer(copy.uuid, qid, answers[qid], confirm_retire=True)
        for qid, note in notes.items():
            moderator.note(copy.uuid, qid, note)
        if difference is not None:
            moderator.set_status(copy.uuid, "complete")
            finished.append(original)
    lead = store.service(QUALITY_LEAD)
    moderated = {case.uuid for case in finished}
    queue = [c for c in store.list_cases(status="complete", order_by="case_ref", descending=False, limit=1000)
             if c.copy_of is None]
    for case in finished[:APPROVED]:  # moderated and approved
        lead.set_status(case.uuid, "approved")
    returned = next(c for c in queue if c.uuid not in moderated)
    lead.set_status(returned.uuid, "returned", comment=RETURN_COMMENT, question_id=RETURN_QUESTION)
