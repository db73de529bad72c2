"""Generate seeded, multi-step arithmetic word problems (GSM8K style) with exact integer answers."""

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

DEFAULT_OUT = Path(__file__).parent / "data" / "arithmetic-word-problems.jsonl"

# (name, subject pronoun, possessive pronoun)
PEOPLE = [
    ("Maya", "she", "her"),
    ("Liam", "he", "his"),
    ("Aisha", "she", "her"),
    ("Kenji", "he", "his"),
    ("Sofia", "she", "her"),
    ("Omar", "he", "his"),
    ("Priya", "she", "her"),
    ("Lucas", "he", "his"),
    ("Chloe", "she", "her"),
    ("Mateo", "he", "his"),
    ("Zara", "she", "her"),
    ("Noah", "he", "his"),
    ("Elena", "she", "her"),
    ("Tariq", "he", "his"),
    ("Hannah", "she", "her"),
    ("Diego", "he", "his"),
]

SHOP_ITEMS = [
    "notebooks",
    "pens",
    "apples",
    "sandwiches",
    "candles",
    "comic books",
    "juice boxes",
    "bags of rice",
]
BOX_ITEMS = ["crayons", "cookies", "marbles", "stickers", "oranges", "pencils", "toy cars", "beads"]
BAKED_GOODS = ["muffins", "loaves of bread", "croissants", "bagels", "cupcakes", "pies"]
GADGETS = ["bicycle", "jacket", "lamp", "pair of headphones", "backpack", "desk chair", "tent"]
SAVINGS_GOALS = ["a video game", "a skateboard", "a guitar", "a pair of shoes", "a watch", "a board game"]
RECIPES = [
    ("pancakes", "cups of flour"),
    ("cookies", "tablespoons of butter"),
    ("soup", "carrots"),
    ("muffins", "eggs"),
    ("lemonade", "lemons"),
    ("curry", "potatoes"),
]
JOBS = ["a warehouse", "a cafe", "a bookshop", "a farm", "a garage", "a hotel"]
VEHICLES = ["car", "van", "truck", "camper van", "pickup truck"]

Problem = tuple[str, list[str], int]


def pick_person(rng: random.Random) -> tuple[str, str, str]:
    return rng.choice(PEOPLE)


def two_people(rng: random.Random) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    first, second = rng.sample(PEOPLE, 2)
    return first, second


def shopping_change(rng: random.Random) -> Problem:
    name, pron, _ = pick_person(rng)
    many_a, many_b = rng.sample(SHOP_ITEMS, 2)
    count_a, price_a = rng.randint(2, 6), rng.randint(2, 9)
    count_b, price_b = rng.randint(2, 5), rng.randint(3, 12)
    cost_a, cost_b = count_a * price_a, count_b * price_b
    total = cost_a + cost_b
    # the note must cover the bill, so pick the smallest that does
    note = next(n for n in (20, 50, 100, 200) if n > total)
    change = note - total
    question = (
        f"{name} buys {count_a} {many_a} at ${price_a} each and {count_b} {many_b} at ${price_b} each. "
        f"{pron.capitalize()} pays with a ${note} note. How much change does {pron} get, in dollars?"
    )
    steps = [
        f"The {many_a} cost {count_a} × {price_a} = ${cost_a}.",
        f"The {many_b} cost {count_b} × {price_b} = ${cost_b}.",
        f"In total {pron} spends {cost_a} + {cost_b} = ${total}.",
        f"{pron.capitalize()} gets {note} - {total} = ${change} in change.",
    ]
    return question, steps, change


def recipe_scaled(rng: random.Random) -> Problem:
    name, pron, _ = pick_person(rng)
    dish, ingredient = rng.choice(RECIPES)
    base_servings = rng.choice([2, 3, 4, 5, 6])
    per_batch = rng.randint(2, 7)
    batches = rng.randint(2, 6)
    # servings are a whole multiple of the base recipe so the scale factor is exact
    servings = base_servings * batches
    needed = per_batch * batches
    question = (
        f"A recipe for {dish} uses {per_batch} {ingredient} and serves {base_servings} people. "
        f"{name} wants to make enough {dish} for {servings} people. How many {ingredient} does {pron} need?"
    )
    steps = [
        f"{name} needs {servings} ÷ {base_servings} = {batches} batches.",
        f"That takes {batches} × {per_batch} = {needed} {ingredient}.",
    ]
    return question, steps, needed


def two_leg_trip(rng: random.Random) -> Problem:
    name, pron, poss = pick_person(rng)
    vehicle = rng.choice(VEHICLES)
    speed_a, hours_a = rng.randrange(40, 95, 5), rng.randint(2, 5)
    speed_b, hours_b = rng.randrange(30, 85, 5), rng.randint(2, 4)
    dist_a, dist_b = speed_a * hours_a, speed_b * hours_b
    total = dist_a + dist_b
    question = (
        f"{name} drives {poss} {vehicle} at {speed_a} km per hour for {hours_a} hours, "
        f"then at {speed_b} km per hour for {hours_b} hours. How many kilometers does {pron} travel in total?"
    )
    steps = [
        f"The first leg is {speed_a} × {hours_a} = {dist_a} km.",
        f"The second leg is {speed_b} × {hours_b} = {dist_b} km.",
        f"In total {pron} travels {dist_a} + {dist_b} = {total} km.",
    ]
    return question, steps, total


def weekly_savings(rng: random.Random) -> Problem:
    name, pron, poss = pick_person(rng)
    goal = rng.choice(SAVINGS_GOALS)
    per_week, weeks = rng.randint(5, 25), rng.randint(4, 12)
    gift = rng.randrange(10, 60, 5)
    saved = per_week * weeks
    total = saved + gift
    # spend less than the total so the answer stays positive
    spent = rng.randint(total // 3, total - 5)
    left = total - spent
    question = (
        f"{name} saves ${per_week} every week for {weeks} weeks. Then {pron} gets ${gift} from {poss} "
        f"grandmother. {pron.capitalize()} spends ${spent} on {goal}. How many dollars does {name} have left?"
    )
    steps = [
        f"{pron.capitalize()} saves {per_week} × {weeks} = ${saved}.",
        f"With the gift {pron} has {saved} + {gift} = ${total}.",
        f"After buying {goal} {pron} has {total} - {spent} = ${left} left.",
    ]
    return question, steps, left


def boxes_shared(rng: random.Random) -> Problem:
    name, pron, _ = pick_person(rng)
    item = rng.choice(BOX_ITEMS)
    people = rng.randint(2, 8)
    per_box = rng.randint(6, 24)
    # choose the box count so the total splits evenly among the people
    boxes = rng.randint(2, 6)
    while (boxes * per_box) % people != 0:
        per_box += 1
    total = boxes * per_box
    share = total // people
    given_away = rng.randint(1, max(1, share - 1))
    kept = share - given_away
    question = (
        f"{name} has {boxes} boxes of {item} with {per_box} {item} in each box. "
        f"{pron.capitalize()} shares them equally among {people} friends. Each friend then gives away "
        f"{given_away} of them. How many {item} does each friend have left?"
    )
    steps = [
        f"There are {boxes} × {per_box} = {total} {item}.",
        f"Each friend gets {total} ÷ {people} = {share} {item}.",
        f"After giving some away, each friend has {share} - {given_away} = {kept} left.",
    ]
    return question, steps, kept


def discount_then_tax(rng: random.Random) -> Problem:
    name, pron, _ = pick_person(rng)
    gadget = rng.choice(GADGETS)
    # redraw until both percentages land on whole dollars
    while True:
        price = rng.randrange(40, 801, 20)
        discount_pct = rng.choice([10, 20, 25, 30, 40, 50])
        tax_pct = rng.choice([5, 10, 15, 20])
        if (price * discount_pct) % 100 == 0:
            sale = price - price * discount_pct // 100
            if (sale * tax_pct) % 100 == 0:
                break
    discount = price * discount_pct // 100
    tax = sale * tax_pct // 100
    final = sale + tax
    question = (
        f"A {gadget} costs ${price}. It is on sale for {discount_pct}% off, and then a {tax_pct}% sales tax "
        f"is added to the sale price. How many dollars does {name} pay if {pron} buys it?"
    )
    steps = [
        f"The discount is {price} × {discount_pct} ÷ 100 = ${discount}.",
        f"The sale price is {price} - {discount} = ${sale}.",
        f"The tax is {sale} × {tax_pct} ÷ 100 = ${tax}.",
        f"{name} pays {sale} + {tax} = ${final}.",
    ]
    return question, steps, final


def family_ages(rng: random.Random) -> Problem:
    (child, _, _), (sibling, _, _) = two_people(rng)
    child_age = rng.randint(3, 12)
    gap = rng.randint(2, 6)
    multiple = rng.randint(2, 4)
    sibling_age = child_age + gap
    parent_age = sibling_age * multiple
    total = child_age + sibling_age + parent_age
    question = (
        f"{child} is {child_age} years old. {sibling} is {gap} years older than {child}. "
        f"Their parent is {multiple} times as old as {sibling}. What is the sum of all three ages?"
    )
    steps = [
        f"{sibling} is {child_age} + {gap} = {sibling_age} years old.",
        f"The parent is {sibling_age} × {multiple} = {parent_age} years old.",
        f"Together they are {child_age} + {sibling_age} + {parent_age} = {total} years old.",
    ]
    return question, steps, total


def garden_minus_path(rng: random.Random) -> Problem:
    name, _, poss = pick_person(rng)
    length, width = rng.randint(8, 30), rng.randint(5, 20)
    path_width = rng.randint(2, 4)
    garden_area = length * width
    path_area = length * path_width
    planted = garden_area - path_area
    question = (
        f"{name}'s rectangular garden is {length} meters long and {width} meters wide. A straight path "
        f"{path_width} meters wide runs along the whole length of the garden. How many square meters "
        f"of {poss} garden are left for planting?"
    )
    steps = [
        f"The garden's area is {length} × {width} = {garden_area} square meters.",
        f"The path covers {length} × {path_width} = {path_area} square meters.",
        f"The planting area is {garden_area} - {path_area} = {planted} square meters.",
    ]
    return question, steps, planted


def bakery_sales(rng: random.Random) -> Problem:
    name, _, _ = pick_person(rng)
    goods = rng.choice(BAKED_GOODS)
    morning_count, afternoon_count = rng.randint(10, 60), rng.randint(8, 45)
    morning_price = rng.randint(3, 8)
    # afternoon items are marked down, so they sell for less
    afternoon_price = rng.randint(1, morning_price - 1)
    morning_money = morning_count * morning_price
    afternoon_money = afternoon_count * afternoon_price
    total = morning_money + afternoon_money
    question = (
        f"{name}'s bakery sells {morning_count} {goods} in the morning for ${morning_price} each. "
        f"In the afternoon it sells {afternoon_count} more at a reduced price of ${afternoon_price} each. "
        f"How many dollars does the bakery make from {goods} that day?"
    )
    steps = [
        f"The morning brings in {morning_count} × {morning_price} = ${morning_money}.",
        f"The afternoon brings in {afternoon_count} × {afternoon_price} = ${afternoon_money}.",
        f"Altogether the bakery makes {morning_money} + {afternoon_money} = ${total}.",
    ]
    return question, steps, total


def pages_per_day(rng: random.Random) -> Problem:
    name, pron, _ = pick_person(rng)
    first_rate, first_days = rng.randint(10, 30), rng.randint(3, 8)
    second_rate, second_days = rng.randint(15, 45), rng.randint(2, 7)
    read_first = first_rate * first_days
    # book length is built from the plan so the remaining days come out whole
    remaining = second_rate * second_days
    book_pages = read_first + remaining
    question = (
        f"{name} is reading a book with {book_pages} pages. {pron.capitalize()} reads {first_rate} pages "
        f"a day for {first_days} days. After that {pron} reads {second_rate} pages a day. "
        f"How many more days does {pron} need to finish the book?"
    )
    steps = [
        f"In the first {first_days} days {pron} reads {first_rate} × {first_days} = {read_first} pages.",
        f"That leaves {book_pages} - {read_first} = {remaining} pages.",
        f"{pron.capitalize()} needs {remaining} ÷ {second_rate} = {second_days} more days.",
    ]
    return question, steps, second_days


def tank_filling(rng: random.Random) -> Problem:
    name, _, _ = pick_person(rng)
    leak_rate = rng.randint(2, 6)
    net_rate = rng.randint(3, 15)
    inflow_rate = net_rate + leak_rate
    minutes = rng.randint(5, 30)
    missing = net_rate * minutes
    already = rng.randrange(20, 200, 10)
    capacity = already + missing
    question = (
        f"{name} is filling a water tank that holds {capacity} liters and already has {already} liters "
        f"in it. A hose adds {inflow_rate} liters per minute, but a leak loses {leak_rate} liters "
        f"per minute. How many minutes does it take to fill the tank?"
    )
    steps = [
        f"The tank still needs {capacity} - {already} = {missing} liters.",
        f"The tank gains {inflow_rate} - {leak_rate} = {net_rate} liters per minute.",
        f"It takes {missing} ÷ {net_rate} = {minutes} minutes.",
    ]
    return question, steps, minutes


def wages_with_overtime(rng: random.Random) -> Problem:
    name, pron, _ = pick_person(rng)
    job = rng.choice(JOBS)
    # an even hourly rate keeps time-and-a-half a whole number
    rate = rng.randrange(10, 31, 2)
    regular_hours = rng.choice([30, 35, 38, 40])
    overtime_hours = rng.randint(2, 10)
    regular_pay = regular_hours * rate
    overtime_rate = rate * 3 // 2
    overtime_pay = overtime_hours * overtime_rate
    total = regular_pay + overtime_pay
    question = (
        f"{name} works at {job} and earns ${rate} an hour. This week {pron} works {regular_hours} "
        f"regular hours and {overtime_hours} overtime hours, which are paid at one and a half times "
        f"the normal rate. How many dollars does {pron} earn this week?"
    )
    steps = [
        f"Regular pay is {regular_hours} × {rate} = ${regular_pay}.",
        f"The overtime rate is {rate} × 3 ÷ 2 = ${overtime_rate} an hour.",
        f"Overtime pay is {overtime_hours} × {overtime_rate} = ${overtime_pay}.",
        f"{pron.capitalize()} earns {regular_pay} + {overtime_pay} = ${total}.",
    ]
    return question, steps, total


TEMPLATES: list[Callable[[random.Random], Problem]] = [
    shopping_change,
    recipe_scaled,
    two_leg_trip,
    weekly_savings,
    boxes_shared,
    discount_then_tax,
    family_ages,
    garden_minus_path,
    bakery_sales,
    pages_per_day,
    tank_filling,
    wages_with_overtime,
]


def generate(seed: int = 1234, count: int = 120) -> list[dict]:
    """Return `count` problem records; the last third is the test split."""
    rng = random.Random(seed)
    test_count = count // 3
    seen: set[str] = set()
    records = []
    for index in range(count):
        # cycling keeps every template in both splits as long as each split has at least 12 items
        template = TEMPLATES[index % len(TEMPLATES)]
        question, steps, answer = template(rng)
        while question in seen:  # redraw from the same rng so output stays deterministic
            question, steps, answer = template(rng)
        seen.add(question)
        records.append(
            {
                "id": f"awp-{index + 1:03d}",
                "split": "test" if index >= count - test_count else "train",
                "input": question,
                "reference": "\n".join(steps) + f"\n#### {answer}",
                "answer": str(answer),
                "meta": {"template": template.__name__, "steps": len(steps)},
            }
        )
    return records


def write_jsonl(records: list[dict], out_path: Path) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1234, help="random seed")
    parser.add_argument("--count", type=int, default=120, help="number of problems")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .jsonl path")
    args = parser.parse_args()
    records = generate(seed=args.seed, count=args.count)
    write_jsonl(records, args.out)
    print(f"wrote {len(records)} problems to {args.out}")


if __name__ == "__main__":
    main()
