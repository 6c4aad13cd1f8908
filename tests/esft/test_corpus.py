"""The miniature's data: seeded, disjoint task splits, answers that are right."""

from __future__ import annotations

import json
import re

from papers.esft import corpus


def test_generators_are_functions_of_the_seed():
    assert corpus.synthetic("code", 5, 1) == corpus.synthetic("code", 5, 1)
    assert corpus.synthetic("code", 5, 1) != corpus.synthetic("code", 5, 2)
    assert corpus.task_splits("math", 20, 5, 0) == corpus.task_splits("math", 20, 5, 0)


def test_test_prompts_never_occur_in_training():
    for task in corpus.TASKS:
        train, test = corpus.task_splits(task, 300, 50, 3)
        assert len(train) == 300 and len(test) == 50
        assert not {e.prompt for e in test} & {e.prompt for e in train}


def test_math_answers_are_the_arithmetic_of_the_question():
    _, test = corpus.task_splits("math", 1, 60, 0)
    for ex in test:
        a, b = map(int, re.findall(r"\d+", ex.prompt)[:2])
        want = a + b if "more" in ex.prompt else a - b if "gives away" in ex.prompt else a * b
        assert ex.answer == f" {want}"


def test_intent_answers_are_json_with_the_request_slots():
    _, test = corpus.task_splits("intent", 1, 40, 0)
    for ex in test:
        obj = json.loads(ex.answer)
        request = ex.prompt.split("\n")[0]
        assert obj["intent"] in {"book_flight", "set_alarm", "weather", "order", "reminder"}
        assert all(str(v) in request for k, v in obj.items() if k != "intent")


def test_arithmetic_equations_hold():
    for line in corpus.synthetic("arithmetic", 20, 0):
        for eq in line.split(" ; "):
            lhs, rhs = eq.split("=")
            assert eval(lhs) == int(rhs)  # noqa: S307 - digits and one operator
