"""SkyMath: grading math solutions step by step, and self-compare fine-tuning (docs/math.md).

- :mod:`.answers`: final-answer extraction and number normalisation (``#### N``, "The answer is N", "答案是 N").
- :mod:`.steps`: the ``<<expr=value>>`` calculator steps and a safe arithmetic evaluator (``ast``, never ``eval``).
- :mod:`.grade`: one sample against its gold solution -> correct, answer, first wrong step, reason.
- :mod:`.prompts`: the prompt formats (math-chat ``[USER]q[SEP][BOT]``, plain, few-shot) and solution trimming.
- :mod:`.data`: problems from JSONL with their gold; :mod:`.solve`: solving and grading through the engine, pass@k.
- :mod:`.compare`: a round's SFT rows (correct solutions + comparison examples).
- :mod:`.config`, :mod:`.self_compare`, :mod:`.cli`: the rounds of self-compare fine-tuning
  (``skywork train self-compare CONFIG.yaml``, recipe kind ``self_compare``).
"""
