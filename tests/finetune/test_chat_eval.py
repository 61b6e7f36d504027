"""`skywork eval chat`: answers, the HTML page and the metrics per class."""

from __future__ import annotations

import json

from skywork.finetune.chat_eval import answer_metrics, distinct_n, repeated_ngram_share


def test_metrics_mean_what_the_docs_say():
    assert repeated_ngram_share("a b c d e f g") == 0.0
    assert repeated_ngram_share("a b c d a b c d a b c d") == 5 / 9
    assert distinct_n(["a b a b"]) == 2 / 3
    m = answer_metrics(
        [
            {"prompt": "写一首诗", "answer": "春风又绿江南岸", "finish_reason": "stop"},
            {"prompt": "Write a poem", "answer": "床前明月光", "finish_reason": "length"},
        ]
    )
    assert m["stopped"] == 0.5 and m["language_match"] == 0.5 and m["length"] == 6.0


def test_eval_chat_command_writes_answers_page_and_summary(tmp_path, base_model_dir):
    from typer.testing import CliRunner

    from skywork.cli import app
    from skywork.utils.summary import read_summary

    rows = [
        {"content": ["写一首关于春天的诗"], "class": "诗词"},
        {"content": ["帮我写一首藏头诗"], "class": "诗词"},
        {"content": ["Write a short story about a cat."], "class": "故事"},
    ]
    prompts = tmp_path / "chat_eval.jsonl"
    prompts.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    args = ["eval", "chat", str(base_model_dir), "--prompts", str(prompts), "--limit", "3", "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--max-new-tokens", "6", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert len(answers) == 3 and all(a["finish_reason"] in ("stop", "length") for a in answers)
    summary = read_summary(out, "chat_eval")
    assert set(summary["by_class"]) == {"诗词", "故事"} and summary["overall"]["answers"] == 3
    assert summary["sampling"]["top_k"] == 5
    page = (out / "answers.html").read_text()
    assert "<h2>诗词</h2>" in page and "distinct_2" in page
