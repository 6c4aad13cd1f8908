"""The miniature's data: pretraining domains and held-out downstream tasks (CPU-scale ESFT).

No MoE checkpoint or the paper's task data exist offline, so the reproduction pretrains a tiny
DeepSeek-V2 MoE on distinct domains (the paper's premise: a pretrained MoE whose experts
specialise by domain) and fine-tunes it on tasks that pretraining under-represents (the paper's
math and intent tasks on a model aligned without them):

- pretraining domains: ``english`` (news and Wikipedia text from the mirror), ``code`` (small
  Python functions), ``arithmetic`` (bare equations ``13+7=20``), ``records`` (key-value pairs
  and the same record as JSON);
- tasks: ``math`` (word problems over small numbers -> the number; arithmetic exists in
  pretraining, the format does not) and ``intent`` (a request -> its intent/slot JSON; JSON
  exists in pretraining, the mapping does not). Both are scored by exact match of the answer.

Every generator is a pure function of its ``random.Random``, so a seed fixes the corpus.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

NAMES = ["Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kim", "Leo",
         "Mia", "Ned", "Ola", "Pat", "Quin", "Ray", "Sam", "Tess"]
ITEMS = ["apples", "books", "coins", "pens", "cards", "stamps", "shells", "marbles", "cups",
         "tickets", "eggs", "plants"]
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Cairo", "Tokyo", "Delhi", "Quito", "Accra", "Perth",
          "Seoul", "Dakar"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WORDS = ["total", "count", "value", "items", "index", "result", "data", "score", "limit", "name",
         "size", "step", "left", "right", "node", "key", "acc", "buf", "row", "col"]
GENERAL_DOMAINS = ("english", "code", "arithmetic", "records")
TASKS = ("math", "intent")


@dataclass(frozen=True)
class Example:
    """A downstream example: the model reads ``prompt`` and must produce ``answer``."""

    prompt: str
    answer: str


def arithmetic(rng: random.Random) -> str:
    """A line of 3-6 bare equations over small operands (+ and - up to 20, * up to 12 x 9): facts
    a 2 M-parameter model can learn, so the math task starts from a skill that exists."""
    parts = []
    for _ in range(rng.randint(3, 6)):
        op = rng.choice("+-*")
        a, b = (rng.randint(0, 12), rng.randint(0, 9)) if op == "*" else (
            rng.randint(0, 20), rng.randint(0, 20))
        value = a + b if op == "+" else a - b if op == "-" else a * b
        parts.append(f"{a}{op}{b}={value}")
    return " ; ".join(parts)


def code(rng: random.Random) -> str:
    """A small Python function: a loop with an update and a condition, then a return."""
    fn, arg, acc, var = rng.sample(WORDS, 4)
    op = rng.choice(["+=", "-=", "*="])
    cond = rng.choice(["<", ">", "==", "!="])
    k = rng.randint(0, 9)
    lines = [f"def {fn}_{rng.choice(WORDS)}({arg}):",
             f"    {acc} = {rng.randint(0, 3)}",
             f"    for {var} in range(len({arg})):",
             f"        if {arg}[{var}] {cond} {k}:",
             f"            {acc} {op} {arg}[{var}]",
             f"    return {acc}"]
    return "\n".join(lines)


def record(rng: random.Random) -> str:
    """A record as ``key: value`` pairs, then the same record as JSON: structured data and the
    copying from context that the intent task builds on (its mapping from requests is not here)."""
    kind = rng.randrange(3)
    if kind == 0:
        obj = {"name": rng.choice(NAMES), "age": rng.randint(18, 90), "city": rng.choice(CITIES)}
    elif kind == 1:
        obj = {"order": rng.randint(100, 999), "item": rng.choice(ITEMS),
               "qty": rng.randint(1, 9), "day": rng.choice(DAYS)}
    else:
        obj = {"from": rng.choice(CITIES), "to": rng.choice(CITIES), "day": rng.choice(DAYS)}
    pairs = "; ".join(f"{k}: {v}" for k, v in obj.items())
    return f"{pairs} => {json.dumps(obj)}"


def math_problem(rng: random.Random) -> Example:
    """A one-step word problem (gain, loss or groups) over small numbers; the answer is the
    number. Small operands keep the arithmetic within what a 2 M-parameter model can learn, so
    the task measures how well a method teaches the format-to-operation mapping."""
    who, item = rng.choice(NAMES), rng.choice(ITEMS)
    kind = rng.randrange(3)
    if kind == 0:
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        text, value = f"{who} has {a} {item} and gets {b} more.", a + b
    elif kind == 1:
        a, b = rng.randint(10, 19), rng.randint(1, 9)
        text, value = f"{who} has {a} {item} and gives away {b}.", a - b
    else:
        a, b = rng.randint(2, 5), rng.randint(2, 9)
        text, value = f"{who} has {a} bags with {b} {item} in each.", a * b
    return Example(f"Question: {text} How many {item} does {who} have now?\nAnswer:",
                   f" {value}")


def intent_request(rng: random.Random) -> Example:
    """A request and its intent/slot JSON (five intents, city/day/time/item slots)."""
    intent = rng.randrange(5)
    city, day, item = rng.choice(CITIES), rng.choice(DAYS), rng.choice(ITEMS)
    hour = f"{rng.randint(1, 12)} {rng.choice(['am', 'pm'])}"
    if intent == 0:
        text, obj = (f"book a flight to {city} on {day}",
                     {"intent": "book_flight", "city": city, "day": day})
    elif intent == 1:
        text, obj = (f"wake me up at {hour} on {day}",
                     {"intent": "set_alarm", "time": hour, "day": day})
    elif intent == 2:
        text, obj = (f"what is the weather in {city} on {day}",
                     {"intent": "weather", "city": city, "day": day})
    elif intent == 3:
        n = rng.randint(1, 9)
        text, obj = (f"order {n} {item} for {day}",
                     {"intent": "order", "item": item, "qty": n, "day": day})
    else:
        text, obj = (f"remind me to buy {item} at {hour}",
                     {"intent": "reminder", "item": item, "time": hour})
    return Example(f"Request: {text}\nJSON:", " " + json.dumps(obj))


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "code": code, "arithmetic": arithmetic, "records": record}
TASK_GENERATORS: dict[str, Callable[[random.Random], Example]] = {
    "math": math_problem, "intent": intent_request}


def synthetic(domain: str, n: int, seed: int) -> list[str]:
    """``n`` documents of a synthetic pretraining domain."""
    rng = random.Random(f"{domain}-{seed}")
    return [GENERATORS[domain](rng) for _ in range(n)]


def task_splits(task: str, train_size: int, test_size: int, seed: int
                ) -> tuple[list[Example], list[Example]]:
    """Disjoint train and test examples of ``task`` (the test prompts never occur in train)."""
    rng = random.Random(f"{task}-{seed}")
    test: dict[str, Example] = {}
    while len(test) < test_size:
        ex = TASK_GENERATORS[task](rng)
        test.setdefault(ex.prompt, ex)
    train: list[Example] = []
    while len(train) < train_size:
        ex = TASK_GENERATORS[task](rng)
        if ex.prompt not in test:
            train.append(ex)
    return train, list(test.values())


def english(texts: Sequence[str], min_chars: int = 40) -> list[str]:
    """Non-trivial lines of the mirror's English corpora (headings and blanks dropped)."""
    lines = (t.strip() for t in texts)
    return [t for t in lines if len(t) >= min_chars and not t.startswith("=")]
