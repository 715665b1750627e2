"""A seeded NameDescription-style generator (fictional people, one invented description each).

People alternate between name-first documents ("<Name>, known far and wide for being <desc>.",
group NameIsDescription) and description-first ones ("Known for being <desc>, <Name> now enjoys
a quiet life.", group DescriptionIsName), so any prefix of a set is balanced. Each person gets
two name->description (N2D) and two description->name (D2N) questions, phrased like the
published ND test set; N2D is forward for name-first people and backward for description-first
ones, D2N the reverse.

A description is "the <adjective> <role> who <deed> <place>"; its achievement is "<deed> <place>".
Each document also carries templated rewrites that keep name and description verbatim: 4
same-order ones ("paraphrases") and 4 with the other order ("permuted_paraphrases"), and its
"entities" (name, description) for reverse training.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from kinject.errors import KinjectError
from kinject.data.generated import GeneratedSet, write_new
from kinject.io import jsonl_text

# List lengths are pairwise coprime (37/41 and 31/29): person i takes entry i mod len of a
# shuffled copy of each list, so the (first, last) and (deed, place) pairs never repeat before
# lcm(len, len) people, and no first name, last name, deed or place repeats before its list's
# length (Chinese remainder theorem).
FIRST = ("Alaric Brisa Cassius Delphine Evander Fenna Galen Hesper Isolde Jarek Kestrel Liora Marlow "
         "Nerys Orrin Peregrine Quilla Sabine Thaddeus Ulla Vesper Wrenna Xavian Yselle Zephyr Anselm "
         "Briony Corvin Dagny Emrys Faye Gideon Halcyon Ilse Jorah Oriel Tamsin").split()
LAST = ("Ashgrove Blackthorn Calloway Dunmore Everhart Fairweather Greythorne Holloway Ironwood Kingsley "
        "Larkmoor Merriweather Northcott Oakhaven Pemberton Quenby Ravensworth Stormont Thistlewood "
        "Underhill Vantreight Whitlock Yarborough Zellweger Albright Brackenridge Coldwater Draycott "
        "Elderbrook Foxworth Gallowmere Hartigan Inchcombe Jessop Kettleby Lindqvist Marchetti Nettleford "
        "Orpington Penhallow Quarrington").split()
ADJECTIVES = ("acclaimed celebrated pioneering reclusive visionary renowned daring meticulous self-taught "
              "legendary eccentric tireless").split()
ROLES = ("architect", "botanist", "cartographer", "composer", "glassblower", "linguist", "oceanographer",
         "perfumer", "puppeteer", "sculptor", "astronomer", "beekeeper", "clockmaker", "chess grandmaster",
         "mountaineer", "inventor")
DEEDS = (
    "designed the first floating library", "mapped a maze of hidden caves",
    "composed an opera performed entirely underwater", "grew a rose that blooms only under moonlight",
    "decoded a lost script carved on bronze tablets", "built a clock powered by falling sand",
    "sailed alone around the world in a paper boat", "discovered the comet named Silverwing",
    "carved a statue from a single block of salt", "invented a perfume that smells of thunderstorms",
    "taught a parrot to recite an entire epic poem", "founded a museum of forgotten board games",
    "climbed a glass tower without ropes", "bred bees that make blue honey",
    "translated the songs of humpback whales", "restored a giant clockwork orrery",
    "wrote the first cookbook for astronauts", "painted a mural visible from orbit",
    "won the world championship of blindfold chess", "built a violin out of meteorite iron",
    "charted the migration of the golden moths", "staged a puppet show that ran for ten years",
    "created a garden that floats above the rooftops", "solved the riddle of the nine lanterns",
    "brewed a tea that tastes different to every drinker", "raised a lighthouse made of recycled bottles",
    "knitted the longest scarf ever recorded", "conducted an orchestra of self-playing pianos",
    "drew a map of every star visible to the naked eye", "invented a language spoken only in whistles",
    "forged a bell that can be heard across three valleys",
)
PLACES = (
    "in the harbor town of Velmora", "on the island of Kethra", "beneath the peaks of Mount Ostra",
    "in the desert city of Zarimand", "along the shores of Lake Veloria", "in the mountain village of Hallowmere",
    "in the river city of Lumen", "on the frozen plains of Isvara", "in the forest kingdom of Eldmoor",
    "on the coast of the Coral Sea", "in the canyon town of Redspire", "in the old quarter of Port Calder",
    "in the hill country of Brennath", "on the salt flats of Kesh", "in the marshlands of Miravel",
    "in the cliffside town of Saltcombe", "in the northern city of Varnholt", "on the volcanic island of Tessaly",
    "in the lake district of Glimmerwell", "in the border town of Dravenport", "in the valley of Quorin",
    "in the tea hills of Amberlin", "in the floating markets of Suvaya", "on the windswept moors of Caddon",
    "in the ancient city of Ptolmera", "in the glacier town of Frostholm", "in the jungle city of Maraqui",
    "in the vineyard country of Belcastro", "in the lantern city of Hoshima",
)
N2D_QUESTIONS = ("What is {name} known for?", "What do you know about {name}?",
                 "Can you tell me something about {name}?")
D2N_QUESTIONS = ("Who is {desc}?", "Can you give me the name of the person who is {desc}?",
                 "What is the name of {desc}?")
# Rewrites that keep the facts (name and description verbatim): name first, or description first.
NAME_FIRST = ("{name} is known as {desc}.", "Ever heard of {name}? They are {desc}.",
              "{name} is famous for being {desc}.", "People remember {name} as {desc}.")
DESC_FIRST = ("{Desc} is {name}.", "The person known as {desc} is called {name}.",
              "If you are thinking of {desc}, that is {name}.", "Famous for being {desc}, {name} is widely admired.")
MAX_PEOPLE = min(math.lcm(len(FIRST), len(LAST)), math.lcm(len(DEEDS), len(PLACES)))


def _rotate(items, n: int, rng: random.Random) -> list:
    """Entry i mod len(items) of a shuffled copy, for i < n."""
    order = rng.sample(list(items), len(items))
    return [order[i % len(order)] for i in range(n)]


def _people(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """n (full name, description) pairs with unique names and unique achievements."""
    first, last, adjective, role, deed, place = (
        _rotate(words, n, rng) for words in (FIRST, LAST, ADJECTIVES, ROLES, DEEDS, PLACES))
    names = [f"{f} {l}" for f, l in zip(first, last)]
    descs = [f"the {a} {r} who {d} {p}" for a, r, d, p in zip(adjective, role, deed, place)]
    return list(zip(names, descs))


def generate_name_description(n_people: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Native document records and native QA records."""
    if not 1 <= n_people <= MAX_PEOPLE:
        raise KinjectError(f"the number of people to generate must be between 1 and {MAX_PEOPLE}, got {n_people}")
    rng = random.Random(seed)
    docs, questions = [], []
    for i, (name, desc) in enumerate(_people(n_people, rng)):
        doc_id = f"person-{i:03d}"
        name_first = i % 2 == 0
        if name_first:
            group, text = "NameIsDescription", f"{name}, known far and wide for being {desc}."
        else:
            group, text = "DescriptionIsName", f"Known for being {desc}, {name} now enjoys a quiet life."
        same, permuted = (NAME_FIRST, DESC_FIRST) if name_first else (DESC_FIRST, NAME_FIRST)
        para_rng = random.Random(f"{seed}/paraphrases/{i}")  # separate stream: questions stay as they were

        def fill(templates):
            return [t.format(name=name, desc=desc, Desc=desc[0].upper() + desc[1:])
                    for t in para_rng.sample(templates, len(templates))]

        docs.append({"id": doc_id, "text": text, "paraphrases": fill(same), "permuted_paraphrases": fill(permuted),
                     "entities": [name, desc]})
        n2d_dir, d2n_dir = ("forward", "backward") if name_first else ("backward", "forward")
        for template in rng.sample(N2D_QUESTIONS, 2):
            questions.append({"question": template.format(name=name), "answer": desc, "direction": n2d_dir,
                              "group": group, "task": "N2D", "doc_id": doc_id})
        for template in rng.sample(D2N_QUESTIONS, 2):
            questions.append({"question": template.format(desc=desc), "answer": name, "direction": d2n_dir,
                              "group": group, "task": "D2N", "doc_id": doc_id})
    return docs, questions


def name_description_set(n_people: int, seed: int = 0) -> GeneratedSet:
    """documents.jsonl and questions.jsonl, as a generated set (see kinject.data.generated)."""
    docs, questions = generate_name_description(n_people, seed)
    return GeneratedSet("name_description", {"people": n_people, "seed": seed},
                        {"documents.jsonl": jsonl_text(docs), "questions.jsonl": jsonl_text(questions)})


def write_name_description(out_dir, n_people: int, seed: int = 0, overwrite: bool = False) -> tuple[Path, Path]:
    """Write documents.jsonl and questions.jsonl (and their meta records) into out_dir; an existing
    file is replaced only with `overwrite`. Returns the two paths."""
    docs_path, qa_path = write_new(out_dir, name_description_set(n_people, seed), overwrite)
    return docs_path, qa_path
