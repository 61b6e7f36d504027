"""Agreement with lm-evaluation-harness: our model loads in its ``hf`` backend offline, the same prompts give the
same per-choice log-likelihoods (1e-4) and predictions, and the exported task YAMLs run there."""

from __future__ import annotations

import pytest

from skywork.eval.lm_eval_export import choice_continuations, export_lm_eval
from skywork.eval.mcq import (
    evaluate_mcq,
    evaluate_subject,
    few_shot_prefix,
    format_example,
    load_subject_tables,
    read_questions,
)

pytest.importorskip("lm_eval")


@pytest.fixture(scope="module")
def hflm(tiny_model_dir):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=str(tiny_model_dir), device="cpu", batch_size=4)


def test_per_choice_loglikelihoods_agree(shared_data, hflm, tiny_model, tiny_tokenizer):
    from lm_eval.api.instance import Instance

    data = shared_data / "haonan-li+CMMLU/data"
    tables = load_subject_tables("cmmlu")
    dev = read_questions(data / "dev" / "anatomy.csv", "cmmlu")
    questions = read_questions(data / "test" / "anatomy.csv", "cmmlu")[:6]
    ours = evaluate_subject(
        tiny_model, tiny_tokenizer, "cmmlu", "anatomy", dev, questions, tables, batch_size=4
    )

    prefix = few_shot_prefix("cmmlu", dev[:5], "anatomy", tables)
    continuations = choice_continuations(tiny_tokenizer)
    requests = [
        Instance(
            "loglikelihood",
            doc={},
            arguments=(prefix + format_example("cmmlu", q, "anatomy", tables, False), c),
            idx=k,
        )
        for q in questions
        for k, c in enumerate(continuations)
    ]
    theirs = [ll for ll, _ in hflm.loglikelihood(requests, disable_tqdm=True)]
    for i, row in enumerate(ours["choice_logprobs"]):
        assert row == pytest.approx(theirs[4 * i : 4 * i + 4], abs=1e-4)
        best = max(range(4), key=lambda k: theirs[4 * i + k])
        assert "ABCD"[best] == ours["predictions"][i]


def test_exported_tasks_run_offline_in_lm_eval(tmp_path, shared_data, hflm, tiny_model, tiny_tokenizer):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    data = shared_data / "haonan-li+CMMLU/data"
    info = export_lm_eval(
        "cmmlu", data, tmp_path, tiny_tokenizer, subjects=["anatomy", "philosophy"], limit=4
    )
    assert (tmp_path / "skywork_cmmlu.yaml").exists()
    manager = TaskManager(include_path=str(tmp_path), include_defaults=False)
    res = simple_evaluate(model=hflm, tasks=[info["group"]], task_manager=manager)
    ours = evaluate_mcq(
        tiny_model, tiny_tokenizer, "cmmlu", data, subjects=["anatomy", "philosophy"], limit=4
    )
    for subject in ("anatomy", "philosophy"):
        theirs = res["results"][f"skywork_cmmlu_{subject}"]["acc,none"]
        assert theirs == pytest.approx(ours["subjects"][subject]["accuracy"])
    assert res["results"]["skywork_cmmlu"]["acc,none"] == pytest.approx(ours["accuracy"])
