"""Seeded GSM8K-style word problems with worked answers and verified final numbers (offline; GSM8K
itself cannot be downloaded here).

Each template draws numbers so every intermediate result is a positive integer, writes the
question, and writes the answer as GSM8K does: one line per step with its arithmetic written out
("3 * 4 = 12"), then "#### <answer>". The arithmetic is computed, never typed: tests re-check
every "a op b = c" in every answer. Train and test come from one pool of distinct questions, split
after a seeded shuffle, so they share no problem.
"""

from __future__ import annotations

import random
from pathlib import Path

from kinject.errors import KinjectError
from kinject.data.generated import GeneratedSet, write_new
from kinject.io import jsonl_text

NAMES = [("Maya", "She"), ("Liam", "He"), ("Ava", "She"), ("Noah", "He"), ("Zara", "She"), ("Omar", "He"),
         ("Iris", "She"), ("Felix", "He"), ("Nina", "She"), ("Hugo", "He"), ("Lena", "She"), ("Ravi", "He")]
ITEMS = ["apples", "stickers", "marbles", "pencils", "cards", "shells", "stamps", "beads"]
THINGS = ["notebooks", "sandwiches", "toy cars", "plants", "mugs", "kites"]
PLANTS = ["tulips", "carrots", "tomato plants", "sunflowers", "cabbages"]


def _items(rng):
    (name, pron), item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b, c = rng.randint(3, 40), rng.randint(2, 9), rng.randint(2, 12)
    q = (f"{name} has {a} {item}. {pron} buys {b} packs with {c} {item} in each pack. "
         f"How many {item} does {name} have now?")
    return q, [f"{pron} buys {b} * {c} = {b * c} {item}.", f"Now {pron.lower()} has {a} + {b * c} = {a + b * c} {item}."], a + b * c


def _change(rng):
    (name, _), thing = rng.choice(NAMES), rng.choice(THINGS)
    n, price = rng.randint(2, 9), rng.randint(2, 15)
    bill = next(b for b in (10, 20, 50, 100, 200) if b > n * price)
    q = f"{name} buys {n} {thing} at ${price} each and pays with a ${bill} bill. How much change does {name} get?"
    return q, [f"The {thing} cost {n} * {price} = ${n * price}.", f"The change is {bill} - {n * price} = ${bill - n * price}."], bill - n * price


def _train(rng):
    s1, h1, s2, h2 = rng.randint(20, 90), rng.randint(2, 6), rng.randint(20, 90), rng.randint(2, 6)
    q = (f"A train travels at {s1} miles per hour for {h1} hours, then at {s2} miles per hour for {h2} hours. "
         "How many miles does it travel in total?")
    return q, [f"First it travels {s1} * {h1} = {s1 * h1} miles.", f"Then it travels {s2} * {h2} = {s2 * h2} miles.",
               f"In total it travels {s1 * h1} + {s2 * h2} = {s1 * h1 + s2 * h2} miles."], s1 * h1 + s2 * h2


def _savings(rng):
    (name, pron), thing = rng.choice(NAMES), rng.choice(("notebook", "sandwich", "toy car", "plant", "mug", "kite"))
    a, w = rng.randint(5, 30), rng.randint(3, 12)
    b = rng.randint(1, a * w - 1)
    q = f"{name} saves ${a} every week for {w} weeks, then spends ${b} on a {thing}. How much money does {name} have left?"
    return q, [f"{pron} saves {a} * {w} = ${a * w}.", f"{pron} has {a * w} - {b} = ${a * w - b} left."], a * w - b


def _sharing(rng):
    (name, pron) = rng.choice(NAMES)
    k, each = rng.randint(2, 8), rng.randint(2, 9)
    eaten = rng.randint(1, 6)
    total = k * each + eaten
    q = (f"{name} bakes {total} cookies and eats {eaten} of them. {pron} shares the rest equally among {k} friends. "
         "How many cookies does each friend get?")
    return q, [f"{total} - {eaten} = {k * each} cookies are left.", f"Each friend gets {k * each} / {k} = {each} cookies."], each


def _garden(rng):
    (name, _), plant = rng.choice(NAMES), rng.choice(PLANTS)
    rows, per, more = rng.randint(2, 12), rng.randint(3, 15), rng.randint(1, 8)
    q = f"A garden has {rows} rows of {per} {plant}. {name} plants {more} more rows like them. How many {plant} are in the garden now?"
    return q, [f"There are {rows} + {more} = {rows + more} rows.", f"That is {rows + more} * {per} = {(rows + more) * per} {plant}."], (rows + more) * per


def _reading(rng):
    (name, pron) = rng.choice(NAMES)
    per, days = rng.randint(5, 40), rng.randint(2, 9)
    total = per * days + rng.randint(1, 200)
    q = f"{name} reads {per} pages a day. The book has {total} pages. How many pages are left after {days} days?"
    return q, [f"{pron} reads {per} * {days} = {per * days} pages.", f"There are {total} - {per * days} = {total - per * days} pages left."], total - per * days


def _tickets(rng):
    adult, child, x, y = rng.randint(8, 30), rng.randint(3, 15), rng.randint(1, 5), rng.randint(1, 6)
    q = (f"Adult tickets cost ${adult} and child tickets cost ${child}. A family buys {x} adult tickets and {y} child "
         "tickets. How much do they pay in total?")
    return q, [f"Adult tickets cost {x} * {adult} = ${x * adult}.", f"Child tickets cost {y} * {child} = ${y * child}.",
               f"In total they pay {x * adult} + {y * child} = ${x * adult + y * child}."], x * adult + y * child


TEMPLATES = (_items, _change, _train, _savings, _sharing, _garden, _reading, _tickets)


def generate_problems(n: int, seed: int = 0) -> list[dict]:
    """n distinct GSM8K-layout records {"question", "answer"}."""
    rng = random.Random(seed)
    seen, out, tries = set(), [], 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise KinjectError(f"cannot generate {n} distinct problems")
        question, steps, final = TEMPLATES[len(out) % len(TEMPLATES)](rng)
        if question in seen:
            continue
        seen.add(question)
        out.append({"question": question, "answer": "\n".join(steps) + f"\n#### {final}"})
    return out


def math_set(n_train: int, n_test: int, seed: int = 0) -> GeneratedSet:
    """train.jsonl and test.jsonl from one pool of distinct problems (no problem in both)."""
    if n_train < 1 or n_test < 1:
        raise KinjectError(f"need at least one train and one test problem, got {n_train} and {n_test}")
    pool = generate_problems(n_train + n_test, seed)
    random.Random(f"{seed}/split").shuffle(pool)
    return GeneratedSet("math_problems", {"train": n_train, "test": n_test, "seed": seed},
                        {"train.jsonl": jsonl_text(pool[:n_train]), "test.jsonl": jsonl_text(pool[n_train:])})


def write_math_split(out_dir, n_train: int, n_test: int, seed: int = 0, overwrite: bool = False) -> tuple[Path, Path]:
    """Write train.jsonl and test.jsonl (and their meta records) into out_dir; an existing file is
    replaced only with `overwrite`."""
    train, test = write_new(out_dir, math_set(n_train, n_test, seed), overwrite)
    return train, test
