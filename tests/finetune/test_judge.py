"""`skywork eval chat --judge-url`: answers graded by a real OpenAI-compatible server (the builtin one, on a tiny
model that answers junk), through the official openai client; unreadable grades are counted, never guessed."""

from __future__ import annotations

import json

import pytest

from skywork.finetune.judge import judge_metrics, parse_grade


def test_grade_parse_reads_the_rubric_form_and_refuses_the_rest():
    assert parse_grade("Grade: 7\nThe poem follows the form.") == 7
    assert parse_grade("**Grade:** 9 - vivid") == 9
    assert parse_grade("score 6/10, a bit short") == 6
    assert parse_grade("评分：8。结构完整。") == 8
    assert parse_grade("10/10 perfect") == 10
    for junk in ("", None, "Grade: 11", "Grade: 0", "nice answer", "3 of the 4 lines rhyme... no grade"):
        assert parse_grade(junk) is None, junk
    rows = [
        {"judge": {"grade": 8, "reply": "Grade: 8", "error": None}},
        {"judge": {"grade": None, "reply": "words", "error": None}},
        {"judge": {"grade": None, "reply": None, "error": "APIConnectionError"}},
        {"judge": {"grade": 6, "reply": "Grade: 6", "error": None}},
    ]
    assert judge_metrics(rows) == {
        "judge_grade": 7.0,
        "judge_graded": 2,
        "judge_unparsable": 1,
        "judge_failed": 1,
    }


def test_eval_chat_with_the_builtin_server_as_judge(tmp_path, base_model_dir, monkeypatch):
    pytest.importorskip("openai")
    pytest.importorskip("fastapi", reason="the builtin server is the serve extra")
    pytest.importorskip("uvicorn")
    from typer.testing import CliRunner

    from skywork.cli import app
    from skywork.serve.builtin import BuiltinServer
    from skywork.utils.summary import read_summary

    rows = [
        {"content": ["写一首关于春天的诗"], "class": "诗词"},
        {"content": ["Write a short story about a cat."], "class": "故事"},
        {"content": ["帮我写一段广告词"], "class": "广告"},
    ]
    prompts = tmp_path / "chat_eval.jsonl"
    prompts.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setenv("SKYWORK_TEST_JUDGE_KEY", "judge-secret")
    out = tmp_path / "out"
    with BuiltinServer(
        base_model_dir, served_model_name="tiny-judge", port=0, api_key="judge-secret", device="cpu"
    ) as server:
        args = ["eval", "chat", str(base_model_dir), "--prompts", str(prompts), "-o", str(out)]
        args += ["--max-new-tokens", "6", "--device", "cpu", "--judge-url", server.base_url + "/v1"]
        result = CliRunner().invoke(app, [*args, "--api-key-env", "SKYWORK_TEST_JUDGE_KEY"])
        assert result.exit_code == 0, result.output
        # a wrong key: each refused request is counted as failed, not a crash (the model named, nothing listed)
        monkeypatch.setenv("SKYWORK_TEST_JUDGE_KEY", "wrong")
        bad = [*args, "-o", str(tmp_path / "bad"), "--api-key-env", "SKYWORK_TEST_JUDGE_KEY"]
        result = CliRunner().invoke(app, [*bad, "--judge-model", "tiny-judge"])
        assert result.exit_code == 0, result.output
        # ... and without a model name the endpoint cannot even be listed: a clear error naming it
        result = CliRunner().invoke(app, bad)
        assert result.exit_code != 0 and "judge" in str(result.exception)

    summary = read_summary(out, "chat_eval")
    assert summary["judge"] == {"url": server.base_url + "/v1", "model": "tiny-judge"}
    overall = summary["overall"]
    assert overall["judge_failed"] == 0
    assert overall["judge_graded"] + overall["judge_unparsable"] == 3
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert all(isinstance(a["judge"]["reply"], str) for a in answers)  # the tiny model's junk, kept as it is
    assert all(a["judge"]["grade"] == parse_grade(a["judge"]["reply"]) for a in answers)
    assert "judge_unparsable" in (out / "answers.html").read_text()
    failed = read_summary(tmp_path / "bad", "chat_eval")["overall"]
    assert failed["judge_failed"] == 3 and failed["judge_graded"] == 0 and failed["judge_grade"] is None
