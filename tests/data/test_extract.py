"""Main-text extraction: the extractor vote is deterministic, its cross-validation never scores a page it was
tuned on, and on gold pages it does at least as well as trafilatura alone."""

from __future__ import annotations

import numpy as np
import pytest

from skywork.data.extract import VOTE_RULES, VOTERS, VoteRule, extract_main_text, page_lines, vote_extract
from skywork.data.extract_eval import (
    FOLDS,
    char_f1,
    cross_validation_splits,
    evaluate,
    fit_page_rules,
    fit_vote_rule,
    fold_of,
    voted_page,
)
from skywork.data.extract_peers import EXTRACTORS, PEER_EXTRACTORS

ARTICLE = [
    "The river town rebuilt its old stone bridge this spring after two years of planning and debate.",
    "Engineers kept the original arches and replaced the worn deck with stone from the same quarry.",
    "Residents say the crossing now carries twice the foot traffic it did before the floods of last year.",
    "The council plans a small museum on the east bank to show how the bridge was built in 1820.",
]


def page_html(title: str = "Stone bridge reopens", extra: str = "") -> str:
    menu = "".join(f'<li><a href="/{w}">{w}</a></li>' for w in ("Home", "News", "Sports", "Contact", "Login"))
    paragraphs = "".join(f"<p>{p} {extra}</p>" for p in ARTICLE)
    return (
        f"<html><head><title>{title}</title></head><body><nav><ul>{menu}</ul></nav>"
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        '<footer><p>Copyright 2024 Example News. All rights reserved.</p><a href="/privacy">Privacy</a></footer>'
        "</body></html>"
    )


def test_every_extractor_runs_and_the_vote_keeps_the_article():
    html = page_html()
    for name, extract in EXTRACTORS.items():
        assert isinstance(extract(html), str), name
    assert set(PEER_EXTRACTORS) == {
        "trafilatura",
        "resiliparse",
        "readability",
        "justext",
        "boilerpy3",
        "inscriptis",
    }
    text = extract_main_text(html)
    gold = "\n".join(ARTICLE)
    assert char_f1(text, gold) > 0.9, text
    assert "Login" not in text and "Privacy" not in text
    assert extract_main_text("") == "" and extract_main_text("<html></html>") == ""


def test_vote_is_deterministic():
    html = page_html(extra="(more)")
    first = [vote_extract(html), extract_main_text(html), extract_main_text(html, method="trafilatura")]
    assert first == [
        vote_extract(html),
        extract_main_text(html),
        extract_main_text(html, method="trafilatura"),
    ]
    pages = synthetic_voted_pages(12)
    assert fit_vote_rule(pages) == fit_vote_rule(pages)
    assert fit_page_rules(pages) == fit_page_rules(pages)
    with pytest.raises(ValueError, match="unknown extraction method"):
        extract_main_text(html, method="nope")


def synthetic_voted_pages(count: int) -> list:
    """Pages whose voters disagree in different ways: each voter drops one article line or keeps the menu."""
    pages = []
    for i in range(count):
        html = page_html(title=f"Bridge story {i}", extra=f"Report {i}.")
        lines = page_lines(html)
        outputs = {}
        for j, name in enumerate([*VOTERS, "trafilatura"]):
            kept = [line for k, line in enumerate(lines) if "Report" in line and (k + i + j) % 5]
            if (i + j) % 3 == 0:
                kept = lines[:3] + kept
            outputs[name] = "\n".join(kept)
        page = {"id": f"page-{i}", "html": html, "gold": "\n".join(f"{p} Report {i}." for p in ARTICLE)}
        pages.append(voted_page(page | {"benchmark": ("a", "b")[i % 2]}, outputs, visible=i < count // 2))
    return pages


def test_cross_validation_never_scores_a_page_it_tuned_on():
    pages = synthetic_voted_pages(20)
    scored_ids: list[str] = []
    for fold, tuning, scored in cross_validation_splits(pages):
        tuned = {page.page_id for page in tuning}
        held = {page.page_id for page in scored}
        assert tuned.isdisjoint(held), fold
        assert tuned | held == {page.page_id for page in pages}
        assert all(page.fold == fold for page in scored)
        scored_ids += held
    assert sorted(scored_ids) == sorted(page.page_id for page in pages)  # each page scored exactly once
    assert fold_of("page-3") == fold_of("page-3") and 0 <= fold_of("page-3") < FOLDS


def test_counts_f1_equals_char_f1_of_the_voted_text():
    from skywork.data.extract import voted_text

    for page in synthetic_voted_pages(4):
        rule = VoteRule(dict.fromkeys(VOTERS, 1.0), 3.0)
        text = voted_text(page.lines, page.votes, list(rule.weights.values()), rule.threshold)
        weights = [rule.weights[name] for name in VOTERS]
        assert page.f1(np.array(weights), rule.threshold) == pytest.approx(char_f1(text, page.gold))
        assert page.text(rule) == text


def test_the_fit_chooses_which_trafilatura_to_fall_back_to():
    from skywork.data.extract import FALLBACKS

    pages = synthetic_voted_pages(12)
    rule = fit_vote_rule(pages)
    assert rule.fallback in FALLBACKS and rule.to_dict()["fallback"] == rule.fallback
    for page in pages[:3]:
        assert set(page.fallbacks) == set(FALLBACKS)
        for name in FALLBACKS:  # agreement 0: always the fallback's own text
            assert page.text(VoteRule(rule.weights, rule.threshold, 0.0, name)) == page.fallbacks[name]
    html = page_html()
    always = {
        script: VoteRule(r.weights, r.threshold, 0.0, "trafilatura") for script, r in VOTE_RULES.items()
    }
    assert vote_extract(html, always) == EXTRACTORS["trafilatura"](html)


def test_shipped_rules_cover_every_script_and_voter():
    assert set(VOTE_RULES) == {"latin", "han"}
    for rule in VOTE_RULES.values():
        assert tuple(rule.weights) == VOTERS and rule.threshold > 0
        assert rule.fallback in ("trafilatura", "trafilatura_recall")


def test_html_extraction_step_uses_the_configured_method():
    from datatrove.data import Document

    from skywork.data.steps import HtmlExtraction

    html = page_html()
    for method in ("vote", "trafilatura"):
        doc = Document(text="", id="1", metadata={"_html": html})
        assert HtmlExtraction(None, method=method).filter(doc) is True
        assert "stone bridge" in doc.text


@pytest.mark.shared
@pytest.mark.parametrize("benchmark", ["scrapinghub", "magic_html", "chinese_extraction"])
def test_ours_at_least_trafilatura_on_gold_pages(shared_data, benchmark):
    scores = evaluate(shared_data, benchmark, max_pages=4, names=("ours", "trafilatura"))
    assert scores["pages"] == 4
    assert scores["ours"] >= scores["trafilatura"], scores


def test_the_consensus_check_replaces_a_text_the_other_extractors_disagree_with():
    from skywork.data.extract import CANDIDATES, consensus_choice

    # trafilatura (the chosen fallback) kept a comment thread: it agrees 0.5 with every other text, while the
    # vote and the others agree 0.9 among themselves.
    def agreement(a: str, b: str) -> float:
        return 0.5 if "trafilatura" in (a, b) else 0.9

    assert consensus_choice(agreement, "trafilatura", 0.03) == "vote"
    assert consensus_choice(agreement, "trafilatura", 0.5) == "trafilatura"  # within the margin: kept
    assert consensus_choice(agreement, "vote", 0.0) == "vote"
    assert set(CANDIDATES) == {"vote", "trafilatura", "trafilatura_recall"}


def test_the_fit_and_the_extractor_make_the_same_consensus_choice():
    import dataclasses

    html = page_html(extra="(more)")
    outputs = {name: EXTRACTORS[name](html) for name in VOTERS}
    page = voted_page({"id": "p", "html": html, "gold": "\n".join(ARTICLE), "benchmark": "a"}, outputs, True)
    for margin in (None, 0.0, 0.03, 0.5):
        rules = {script: dataclasses.replace(r, consensus_margin=margin) for script, r in VOTE_RULES.items()}
        assert vote_extract(html, rules) == page.text(rules[page.script]), margin
    assert all(rule.to_dict()["consensus_margin"] is not None for rule in VOTE_RULES.values())
    margin = fit_vote_rule(synthetic_voted_pages(12)).consensus_margin
    from skywork.data.extract_eval import CONSENSUS_GRID

    assert margin is None or margin in CONSENSUS_GRID
