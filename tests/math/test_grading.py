"""Answer extraction, the safe evaluator, the calculator steps and the first wrong step."""

from __future__ import annotations

from fractions import Fraction

import pytest

from skywork.math.answers import extract_answer, extract_gold_value, format_number, parse_number
from skywork.math.grade import grade_solution, parse_gold
from skywork.math.prompts import trim_solution
from skywork.math.steps import ExpressionError, claim_matches, evaluate, parse_steps


@pytest.mark.parametrize(
    "text,value,source",
    [
        ("3*4=<<3*4=12>>12\n#### 12", 12, "hash"),
        ("#### 1,234", 1234, "hash"),
        ("So, the answer is $18.", 18, "answer_is"),
        ("The answer is: 3/4 of the cake", Fraction(3, 4), "answer_is"),
        ("The answer is 50%", 50, "answer_is"),
        ("The answer is 2.50 dollars", Fraction(5, 2), "answer_is"),
        ("所以答案是 42 个苹果", 42, "zh_answer"),
        ("答案：1,000元", 1000, "zh_answer"),
        ("一共行驶了195千米。\n#### 195", 195, "hash"),
        ("she has -4 left", -4, "last_number"),
        ("#### 7\nThe answer is 9", 7, "hash"),  # #### is trusted first
    ],
)
def test_extract_answer(text, value, source):
    found = extract_answer(text)
    assert found is not None and found.value == value and found.source == source


def test_no_answer_and_gold():
    assert extract_answer("no number here") is None
    assert extract_answer("she has 4 left", allow_last_number=False) is None
    assert extract_gold_value("steps\n#### 1,000") == 1000
    assert extract_gold_value("The answer is 5") is None  # gold needs ####
    assert extract_gold_value("#### none") is None
    assert parse_number("$1,234.50") == Fraction(246_900, 200)
    assert parse_number("1/0") is None
    assert [format_number(Fraction(x)) for x in ("18", "2.5", "1/3", "-0.125")] == [
        "18",
        "2.5",
        "1/3",
        "-0.125",
    ]


@pytest.mark.parametrize(
    "expression,value",
    [
        ("3*4", 12),
        ("(2+3)*4", 20),
        ("-5+2", -3),
        ("10/4", Fraction(5, 2)),
        ("7//2", 3),
        ("7%3", 1),
        ("2**10", 1024),
        ("1,000*3", 3000),
        ("$12*3", 36),
        ("0.1+0.2", Fraction(3, 10)),  # exact, not 0.30000000000000004
        ("3 x 4", 12),
        ("6÷3×2", 4),
    ],
)
def test_safe_evaluator(expression, value):
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "a+1",
        "abs(-3)",
        "3<4",
        "9**9**9",
        "1/0",
        "2**0.5",
        "",
        "[1][0]",
        "1 if 1 else 2",
    ],
)
def test_safe_evaluator_refuses(expression):
    with pytest.raises(ExpressionError):
        evaluate(expression)


def test_claims_and_steps():
    assert claim_matches(Fraction(10, 3), "3.33") and not claim_matches(Fraction(10, 3), "3.4")
    assert not claim_matches(Fraction(10, 3), "3")
    steps = parse_steps("a <<3*4=12>>12, b <<12+x=13>>13, c <<2*2=5>>5")
    assert [s.arithmetic_ok for s in steps] == [True, False, False]
    assert steps[1].value is None and "parse" in steps[1].error or "Name" in steps[1].error
    assert steps[2].value == 4 and steps[2].as_dict()["value"] == "4"


QUESTION = "Tom has 5 apples and buys 3 bags with 4 apples in each bag. How many apples does Tom have now?"
GOLD = "Tom buys 3*4=<<3*4=12>>12 apples.\nNow Tom has 5+12=<<5+12=17>>17 apples.\n#### 17"


def test_grade_correct_and_wrong_steps():
    gold = parse_gold(GOLD, QUESTION)
    assert gold is not None and gold.answer == 17 and {3, 4, 5, 12, 17} <= gold.chain
    right = grade_solution(GOLD, gold)
    assert right.correct and right.reason == "correct" and right.steps_ok and right.first_wrong_step is None
    calc = grade_solution("Tom buys 3*4=<<3*4=13>>13 apples.\nNow 5+13=<<5+13=18>>18.\n#### 18", gold)
    assert (calc.correct, calc.reason, calc.first_wrong_step, calc.answer) == (
        False,
        "wrong_calculation",
        1,
        "18",
    )
    assert "3*4 = 12" in calc.explanation
    off = grade_solution("Tom buys 3+4=<<3+4=7>>7 apples.\nNow 5+7=<<5+7=12>>12.\n#### 12", gold)
    assert (off.reason, off.first_wrong_step) == ("off_gold_chain", 1)
    later = grade_solution("Tom buys 3*4=<<3*4=12>>12.\nNow 12-5=<<12-5=7>>7.\n#### 7", gold)
    assert (later.reason, later.first_wrong_step) == ("off_gold_chain", 2)
    bad = grade_solution("Tom buys <<3*(4=12>>12 apples.\n#### 12", gold)
    assert (bad.reason, bad.first_wrong_step, bad.correct) == ("unparsable_step", 1, False)
    final = grade_solution("Tom buys 3*4=<<3*4=12>>12.\n#### 12", gold)
    assert (final.reason, final.first_wrong_step) == ("wrong_final_answer", None)
    none = grade_solution("Tom buys 3*4=<<3*4=12>>12 apples", gold)
    assert none.reason == "no_answer" and none.answer is None
    lucky = grade_solution("<<2*2=5>>5 ... #### 17", gold)
    assert lucky.correct and not lucky.steps_ok
    assert set(calc.as_dict()) >= {"correct", "answer", "first_wrong_step", "reason", "steps"}


def test_grade_chinese_and_no_gold():
    question = "商店进了8箱鸡蛋，每箱19个，其中4个坏了。商店有多少个好的鸡蛋？"
    solution = "商店一共进了19*8=<<19*8=152>>152个鸡蛋。\n好的有152-4=<<152-4=148>>148个。\n#### 148"
    gold = parse_gold(solution, question)
    assert grade_solution("一共152个，好的148个，所以答案是148", gold).correct
    assert parse_gold("没有答案", question) is None


def test_trim_solution():
    assert trim_solution("a\n#### 12\nQuestion: more") == "a\n#### 12"
    assert trim_solution("  no answer yet \n") == "no answer yet"


def test_generated_problems_grade_correct_with_their_own_solutions():
    from skywork.data.synth.stem import generate_problems
    from skywork.math.steps import parse_steps

    seen: set[str] = set()
    problems = generate_problems(3, 40, exclude=seen)
    assert len({p.text for p in problems}) == 40 and len(seen) == 40
    assert [p.lang for p in problems[:4]] == ["en", "zh", "en", "zh"]
    more = generate_problems(3, 10, exclude=seen)
    assert not {p.text for p in more} & {p.text for p in problems}
    for p in problems:
        gold = parse_gold(p.answer, p.question)
        assert gold is not None and gold.answer == p.value
        assert grade_solution(p.answer, gold).steps_ok and grade_solution(p.answer, gold).correct
        assert parse_steps(p.answer)  # every solution writes <<expr=value>> calculator steps
        assert p.as_gsm8k()["answer"].endswith(f"#### {p.value}")
