"""Logistic regression: is a factor (IOM status) linked to an outcome once covariates are held equal?

Section 5.3 of the IOM report: "A logistic regression analysis ... In 8 of the
12 questions, IOM status was an independent factor." For each yes/no outcome
question this fits

    logit P(outcome = yes) = b0 + b1 [factor = level] + covariate terms

by maximum likelihood (statsmodels' ``Logit``, Newton's method) and reports the
factor's odds ratio exp(b1), its Wald confidence interval exp(b1 +- z se) and
the Wald test's p-value.

* Every value comes from the counting module's verdict (``answers.counted = 1``),
  read through :meth:`audit.store.Store.iter_answers`; a case whose outcome,
  factor or covariate does not count (not applicable, unanswered, retired) is
  left out of that outcome's model, and the reasons are counted.
* Choice covariates enter as indicator columns against their first option
  present (the rubric's order); integer covariates enter as numbers; ``site``
  and ``inspector`` are the case's own fields. Columns that the others already
  determine are dropped, so a site that holds one type of case cannot make the
  fit singular; if the factor itself is determined, no estimate is given.
* statsmodels is an optional extra (``audit[stats]``), imported only here, only
  when a model is fitted: :func:`require_statsmodels` says how to install it.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from audit.errors import AuditError, did_you_mean
from audit.rubric import Question, Rubric
from audit.stats import normal_quantile, normal_two_sided

INSTALL_HINT = (
    "audit model needs the statistics extra (statsmodels), which is not installed; install it with "
    "`pip install 'audit[stats]'` (in a clone of the project: `.venv/bin/pip install -e '.[stats]'`)"
)
CASE_FIELDS = ("site", "inspector")  # adjusters that are fields of the case, not questions
YES_NO_TYPES = ("yes_no", "yes_no_na")


def require_statsmodels():
    """The statsmodels.api module, or an AuditError saying exactly how to install it."""
    # The matrices are small (cases x a few dozen columns): BLAS threads only contend with
    # each other and with other work, 4-5x slower on a busy two-core laptop. Set before
    # numpy first loads; a user's own setting wins.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    try:
        import statsmodels.api as sm
    except ImportError:
        raise AuditError(INSTALL_HINT) from None
    return sm


@dataclass(frozen=True)
class OutcomeModel:
    """The factor's adjusted odds ratio for one outcome question (and one factor level)."""

    outcome: str
    question: str  # the outcome question's text
    level: str  # the factor level compared with the reference
    cases: int  # cases in the model
    events: int  # of them, outcome "yes"
    left_out: dict[str, int]  # reason -> cases left out for it
    odds_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    alpha: float = 0.05
    note: str = ""

    @property
    def left_out_total(self) -> int:
        return sum(self.left_out.values())

    @property
    def significant(self) -> bool | None:
        return None if self.p_value is None else self.p_value < self.alpha


@dataclass(frozen=True)
class ModelReport:
    rubric_id: str
    factor: str
    reference: str
    adjust: tuple[str, ...]
    total_cases: int
    confidence: float
    rows: list[OutcomeModel] = field(default_factory=list)

    @property
    def method(self) -> str:
        adjusted = f"adjusted for {', '.join(self.adjust)}" if self.adjust else "unadjusted"
        return (f"Logistic regression (maximum likelihood), {adjusted}; odds ratio of {self.factor} against "
                f"'{self.reference}', {self.confidence:.0%} Wald confidence interval, Wald test p-value")


# --- checking the request ------------------------------------------------------------------


def _question(rubric: Rubric, question_id: str, what: str) -> Question:
    if not rubric.has_question(question_id):
        known = rubric.question_ids + list(CASE_FIELDS) if what == "--adjust" else rubric.question_ids
        raise AuditError(
            f"{what}: no question '{question_id}' in rubric {rubric.id}{did_you_mean(question_id, known)}; "
            f"see `audit rubric show {rubric.id}`"
        )
    return rubric.question(question_id)


def default_outcomes(rubric: Rubric, key_questions: Iterable[str] | None, exclude: Iterable[str]) -> list[str]:
    """The rubric's yes/no key questions (as a rating scheme names them), else every yes/no question."""
    skip = set(exclude)
    if key_questions:
        return [qid for qid in key_questions if rubric.has_question(qid) and qid not in skip]
    return [q.id for q in rubric.questions if q.type in YES_NO_TYPES and q.id not in skip]


def check_request(rubric: Rubric, outcomes: list[str], factor: str, adjust: list[str], reference: str | None) -> str:
    """Refuse unusable questions with one line each; returns the factor's reference level."""
    factor_question = _question(rubric, factor, "--factor")
    if not factor_question.is_choice or factor_question.type == "multi":
        raise AuditError(f"--factor: '{factor}' is a {factor_question.type} question; the factor must be a single choice or yes/no question")
    counted = [code for code in factor_question.options if factor_question.counts(code)]
    if reference is None:
        reference = "no" if factor_question.type in YES_NO_TYPES else counted[0]
    elif reference not in counted:
        raise AuditError(f"--reference: '{reference}' is not an option of {factor}{did_you_mean(reference, counted)}; its options are {', '.join(counted)}")
    for name in adjust:
        if name in CASE_FIELDS:
            continue
        question = _question(rubric, name, "--adjust")
        if question.type in ("multi", "text", "date"):
            raise AuditError(f"--adjust: '{name}' is a {question.type} question; adjust for single choice, yes/no or integer questions, or {' or '.join(CASE_FIELDS)}")
        if name == factor:
            raise AuditError(f"--adjust: '{name}' is the factor itself; adjust for other questions")
    if not outcomes:
        raise AuditError(f"no outcome questions: rubric {rubric.id} has no yes/no question to model; name one")
    for outcome in outcomes:
        question = _question(rubric, outcome, "OUTCOME")
        if question.type not in YES_NO_TYPES:
            raise AuditError(f"OUTCOME: '{outcome}' is a {question.type} question; the outcome must be a yes/no question")
        if outcome == factor or outcome in adjust:
            raise AuditError(f"OUTCOME: '{outcome}' is also the factor or a covariate; choose another outcome")
    return reference


# --- the data ------------------------------------------------------------------------------


def read_cases(store, questions: Iterable[str]) -> list[dict[str, Any]]:
    """One dict per case: its counted answers to ``questions``, and its site and inspector."""
    cases = {case.uuid: {"site": case.site, "inspector": case.inspector}
             for case in store.list_cases(limit=max(1, store.case_count()), order_by="created_at", descending=False)}
    for case_uuid, question_id, value in store.iter_answers(questions, counted_only=True):
        if case_uuid in cases:
            cases[case_uuid][question_id] = value
    return list(cases.values())


def _levels(question: Question | None, values: Iterable[Any]) -> list[Any]:
    present = set(values)
    if question is None:  # a case field: sorted, first as reference
        return sorted(present, key=str)
    return [code for code in question.options if code in present]


def design(rubric: Rubric, rows: list[dict[str, Any]], factor: str, reference: str,
           adjust: list[str]) -> tuple[list[str], list[list[float]], list[str]]:
    """(column names, matrix rows, factor column names): intercept, factor indicators, covariates."""
    names = ["(intercept)"]
    factor_levels = [level for level in _levels(rubric.question(factor), (r[factor] for r in rows)) if level != reference]
    factor_columns = [f"{factor}={level}" for level in factor_levels]
    names += factor_columns
    encoders: list[tuple[str, Any]] = []
    for name in adjust:
        question = rubric.question(name) if name not in CASE_FIELDS else None
        if question is not None and question.type == "integer":
            names.append(name)
            encoders.append((name, None))
            continue
        levels = _levels(question, (r[name] for r in rows))
        for level in levels[1:]:
            names.append(f"{name}={level}")
        encoders.append((name, levels[1:]))
    matrix = []
    for r in rows:
        line = [1.0] + [1.0 if r[factor] == level else 0.0 for level in factor_levels]
        for name, levels in encoders:
            line += [float(r[name])] if levels is None else [1.0 if r[name] == level else 0.0 for level in levels]
        matrix.append(line)
    return names, matrix, factor_columns


def _independent_columns(np, x, names: list[str]) -> list[int]:
    """Indices of columns that add rank, in order (the intercept and factor come first).

    Each column is kept if what the kept columns cannot explain of it (its
    residual sum of squares, from the small Gram matrix X'X) is more than a
    relative 1e-9 of its own.
    """
    gram = x.T @ x
    kept: list[int] = []
    for index in range(len(names)):
        own = gram[index, index]
        if own <= 0:
            continue
        if kept:
            g_kk = gram[np.ix_(kept, kept)]
            g_kj = gram[kept, index]
            residual = own - g_kj @ np.linalg.solve(g_kk, g_kj)
        else:
            residual = own
        if residual > 1e-9 * own:
            kept.append(index)
    return kept


# --- fitting -------------------------------------------------------------------------------


def fit_outcome(rubric: Rubric, cases: list[dict[str, Any]], outcome: str, factor: str, reference: str,
                adjust: list[str], *, confidence: float = 0.95, alpha: float = 0.05) -> list[OutcomeModel]:
    """The factor's odds ratio(s) for one outcome; one row per non-reference factor level."""
    sm = require_statsmodels()
    import numpy as np

    left_out: Counter[str] = Counter()
    rows = []
    for case in cases:
        missing = next((name for name in (outcome, factor, *adjust) if case.get(name) is None), None)
        if missing is None:
            rows.append(case)
        else:
            left_out[missing] += 1
    question = rubric.question(outcome)
    events = sum(1 for r in rows if r[outcome] == "yes")
    levels = [level for level in _levels(rubric.question(factor), (r[factor] for r in rows)) if level != reference]
    blank = OutcomeModel(outcome=outcome, question=question.text, level="-", cases=len(rows), events=events,
                         left_out={f"without a counted answer to {name}": left_out[name]
                                   for name in (outcome, factor, *adjust) if left_out[name]},
                         odds_ratio=None, ci_low=None, ci_high=None, p_value=None, alpha=alpha)
    if reference not in {r[factor] for r in rows} or not levels:
        return [replace(blank, note=f"the cases in the model do not hold both '{reference}' and another answer to {factor}")]
    if events in (0, len(rows)):
        return [replace(blank, level=level, note=f"every case in the model answered {outcome} the same way") for level in levels]
    names, matrix, factor_columns = design(rubric, rows, factor, reference, adjust)
    x = np.asarray(matrix, dtype=float)
    y = np.asarray([1.0 if r[outcome] == "yes" else 0.0 for r in rows])
    kept = _independent_columns(np, x, names)
    kept_names = [names[i] for i in kept]
    notes = []
    dropped = [names[i] for i in range(len(names)) if i not in kept and names[i] not in factor_columns]
    if dropped:
        notes.append(f"{len(dropped)} covariate column(s) dropped as determined by the others ({', '.join(dropped[:3])}{', ...' if len(dropped) > 3 else ''})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sm.Logit(y, x[:, kept]).fit(method="newton", maxiter=100, disp=0)
        except Exception as exc:  # a singular Hessian, or perfect prediction raised as an error
            return [replace(blank, level=level, note=f"the model could not be fitted ({type(exc).__name__}: {exc})") for level in levels]
    if not result.mle_retvals.get("converged", True) or any("separation" in str(w.message).lower() for w in caught):
        notes.append("did not converge: some covariate level predicts the outcome (almost) exactly; treat with care")
    z = normal_quantile(0.5 + confidence / 2)
    out = []
    for level in levels:
        column = f"{factor}={level}"
        if column not in kept_names:
            out.append(replace(blank, level=level, note=f"{column} is determined by the covariates in these cases; no estimate"))
            continue
        index = kept_names.index(column)
        coefficient, error = float(result.params[index]), float(result.bse[index])
        if not (np.isfinite(coefficient) and np.isfinite(error) and error > 0):
            out.append(replace(blank, level=level, note="no standard error: the fit is degenerate"))
            continue
        out.append(replace(
            blank, level=level, odds_ratio=float(np.exp(coefficient)), ci_low=float(np.exp(coefficient - z * error)),
            ci_high=float(np.exp(coefficient + z * error)), p_value=normal_two_sided(coefficient / error), note="; ".join(notes),
        ))
    return out


def model(store, outcomes: list[str] | None, factor: str, adjust: list[str], *, reference: str | None = None,
          key_questions: Iterable[str] | None = None, confidence: float = 0.95, alpha: float = 0.05) -> ModelReport:
    """Fit one model per outcome question of the store's rubric (default: its yes/no key questions)."""
    from audit.tabulate import store_rubric

    require_statsmodels()  # before any work, so a missing extra is the first thing said
    rubric = store_rubric(store)
    adjust = list(dict.fromkeys(adjust))
    if not outcomes:
        outcomes = default_outcomes(rubric, key_questions, [factor, *adjust])
    reference = check_request(rubric, outcomes, factor, adjust, reference)
    questions = [q for q in (*outcomes, factor, *adjust) if q not in CASE_FIELDS]
    cases = read_cases(store, questions)
    rows = []
    for outcome in outcomes:
        rows += fit_outcome(rubric, cases, outcome, factor, reference, adjust, confidence=confidence, alpha=alpha)
    return ModelReport(rubric.id, factor, reference, tuple(adjust), len(cases), confidence, rows)
