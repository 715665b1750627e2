"""A seeded world of fictional people in bioS style (Allen-Zhu & Li, "Physics of Language Models 3.1").

Every person has a unique full name, a unique birth date, a birth city, a university, a major and
a unique employer. A biography states them in a fixed order, name first:

    Orla Vance Kettering was born on March 4, 1987, in Port Calder. She studied marine biology at
    Eastmere University. She worked for Brightwave Foundry.

Questions (four per person):
    forward  (cue = the name, before the answer in the text):  birth city, employer
    backward (cue after the answer, the name):                  birth date -> name, employer -> name
Birth dates and employers are unique, so every backward question has exactly one answer.
"""

from __future__ import annotations

import datetime
import itertools
import random
from dataclasses import dataclass

FIRST = {
    "female": "Ada Briony Cleo Dara Elsa Fern Greta Hana Iris Juno Kira Lena Mira Nell Orla Pia Rhea Sela Tess Una "
              "Vera Wren Yara Zoe".split(),
    "male": "Abel Bram Cyril Dane Emil Finn Gus Hugo Ivo Jonah Kai Leon Milo Nico Otto Pax Rafe Sami Theo Ugo "
            "Vito Wade Xan Yuri".split(),
}
MIDDLE = "Ash Bay Cole Dell Eden Faye Gray Hart Jade Lark Lane Moss Noor Pike Quin Reed Sage Tate Vale West".split()
LAST = ("Abbot Barlow Carver Dunmore Ellery Fenwick Garrow Halden Ingram Jessop Kettering Lowell Marlow Northey "
        "Oakley Pardee Quarles Rendell Sutter Thorne Upton Varga Whitby Yardley Zeller Ashdown Brennan Calder "
        "Draper Easton").split()
CITIES = ("Port Calder", "Velmora", "Ashford Bay", "Kestrel Falls", "Lumen", "Redspire", "Hallowmere", "Saltcombe",
          "Varnholt", "Glimmerwell", "Dravenport", "Amberlin", "Frostholm", "Belcastro", "Hoshima", "Quorin",
          "Miravel", "Brennath", "Tessaly", "Zarimand")
UNIVERSITIES = ("Eastmere University", "the University of Velmora", "Northgate Institute", "Ravenhill College",
                "the Lumen Polytechnic", "Saint Aldric University", "Coldwater University", "the Amberlin Academy",
                "Westbrook Institute of Technology", "the University of Redspire")
MAJORS = ("marine biology", "economics", "mechanical engineering", "philosophy", "astronomy", "architecture",
          "linguistics", "chemistry", "music theory", "computer science", "geology", "medieval history")
COMPANY_A = ("Brightwave", "Ironleaf", "Silverline", "Northwind", "Bluestone", "Redfern", "Goldcrest", "Clearwater",
             "Stonebridge", "Highmoor", "Evergreen", "Blackpine", "Suncrest", "Riverbend", "Frostpeak", "Oakhurst",
             "Starling", "Copperfield", "Westhaven", "Moonrise")
COMPANY_B = ("Foundry", "Systems", "Labs", "Logistics", "Textiles", "Dynamics", "Robotics", "Publishing",
             "Shipyards", "Pharmaceuticals", "Analytics", "Motors", "Studios", "Farms", "Energy", "Optics", "Mills",
             "Holdings", "Instruments", "Brewing", "Aerospace", "Ceramics", "Software", "Games", "Forge")
MONTHS = ("January February March April May June July August September October November December").split()

BIRTH = ("{name} was born on {date}, in {city}.", "{name} came into the world on {date}, in {city}.")
STUDY = ("{pron} studied {major} at {university}.", "{pron} took a degree in {major} at {university}.")
WORK = ("{pron} worked for {company}.", "{pron} was employed by {company}.")
FORWARD = (("Where was {name} born?", "city"), ("Which company did {name} work for?", "company"))
BACKWARD = (("Who was born on {date}?", "date"), ("Who worked for {company}?", "company"))


@dataclass(frozen=True)
class Person:
    name: str
    pronoun: str
    date: str
    city: str
    university: str
    major: str
    company: str

    def attribute(self, key: str) -> str:
        return getattr(self, key)


def _date(day_index: int) -> str:
    day = datetime.date(1950, 1, 1) + datetime.timedelta(days=day_index)
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def max_people() -> int:
    names = sum(len(v) for v in FIRST.values()) * len(MIDDLE) * len(LAST)
    return min(names, len(COMPANY_A) * len(COMPANY_B))


def make_people(n: int, seed: int = 0) -> list[Person]:
    """n people with unique names, birth dates and employers; the same seed gives the same world."""
    if not 1 <= n <= max_people():
        raise ValueError(f"a world holds 1 to {max_people()} people, not {n}")
    rng = random.Random(seed)
    names = [(first, sex) for sex, firsts in FIRST.items() for first in firsts]
    full_names = rng.sample(list(itertools.product(names, MIDDLE, LAST)), n)
    companies = rng.sample([f"{a} {b}" for a in COMPANY_A for b in COMPANY_B], n)
    days = rng.sample(range(365 * 50), n)
    people = []
    for ((first, sex), middle, last), company, day in zip(full_names, companies, days):
        people.append(Person(
            name=f"{first} {middle} {last}", pronoun="She" if sex == "female" else "He", date=_date(day),
            city=rng.choice(CITIES), university=rng.choice(UNIVERSITIES), major=rng.choice(MAJORS),
            company=company,
        ))
    return people


def biography(person: Person, rng: random.Random) -> str:
    """One biography; sentence wording varies with rng, the order of facts never does."""
    fields = {"name": person.name, "pron": person.pronoun, "date": person.date, "city": person.city,
              "major": person.major, "university": person.university, "company": person.company}
    return " ".join(rng.choice(templates).format(**fields) for templates in (BIRTH, STUDY, WORK))


def questions(person: Person) -> list[dict]:
    """QA records (native format) about one person; forward questions ask from the name."""
    fields = {"name": person.name, "date": person.date, "company": person.company}
    out = []
    for template, key in FORWARD:
        out.append({"question": template.format(**fields), "answer": person.attribute(key), "direction": "forward",
                    "group": "bioS", "task": f"name->{key}"})
    for template, key in BACKWARD:
        out.append({"question": template.format(**fields), "answer": person.name, "direction": "backward",
                    "group": "bioS", "task": f"{key}->name"})
    return out
