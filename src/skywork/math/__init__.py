"""SkyMath: grading math solutions step by step, and self-compare fine-tuning (docs/math.md).

- :mod:`.answers`: final-answer extraction and number normalisation (``#### N``, "The answer is N", "答案是 N").
- :mod:`.steps`: the ``<<expr=value>>`` calculator steps and a safe arithmetic evaluator (``ast``, never ``eval``).
- :mod:`.grade`: one sample against its gold solution -> correct, answer, first wrong step, reason.
- :mod:`.prompts`: the prompt formats (math-chat ``[USER]q[SEP][BOT]``, plain, few-shot) and solution trimming.
- :mod:`.config`, :mod:`.data`, :mod:`.self_compare`: the rounds of self-compare fine-tuning
  (``skywork train self-compare CONFIG.yaml``).
"""
