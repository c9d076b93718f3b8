"""A synthetic company for the demo, tests and benchmarks: people across
functions, each with topics they can speak about and topics they want to learn."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FUNCTION_TOPICS: dict[str, list[str]] = {
    "Engineering": ["Kubernetes", "Python", "Incident response", "System design", "Code review", "Testing"],
    "Product": ["Roadmapping", "User research", "Pricing", "Product discovery", "Metrics"],
    "Design": ["Design systems", "Accessibility", "Prototyping", "UX writing", "User research"],
    "Sales": ["Negotiation", "Enterprise deals", "Forecasting", "Cold outreach", "Pricing"],
    "Finance": ["Budgeting", "Forecasting", "Unit economics", "Fundraising", "Procurement"],
    "People": ["Hiring", "Onboarding", "Career ladders", "Feedback", "Compensation"],
}
FIRST = [
    "Ada",
    "Bo",
    "Chen",
    "Dara",
    "Eli",
    "Farah",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kemi",
    "Lior",
    "Mira",
    "Nils",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sami",
    "Tove",
    "Uma",
    "Vik",
    "Wen",
    "Yara",
    "Zane",
    "Aiko",
    "Bram",
    "Cleo",
    "Dev",
    "Esme",
    "Femi",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kai",
    "Lena",
    "Mateo",
    "Noor",
    "Otto",
]
LAST = ["Okafor", "Lindqvist", "Tanaka", "Moreau", "Silva", "Novak", "Haddad", "Kowalski", "Ng", "Ferreira"]
TIMEZONES = ["Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Singapore"]
TITLES = {
    "Engineering": "Software Engineer",
    "Product": "Product Manager",
    "Design": "Product Designer",
    "Sales": "Account Executive",
    "Finance": "Financial Analyst",
    "People": "People Partner",
}


@dataclass
class Employee:
    user_id: str
    name: str
    function: str
    title: str
    tz: str
    speaks: list[str] = field(default_factory=list)
    learns: list[str] = field(default_factory=list)

    @property
    def handle(self) -> str:
        return self.name.lower().replace(" ", ".")

    @property
    def email(self) -> str:
        return f"{self.handle}@example.com"


def make_company(size: int = 36, *, seed: int = 7, functions: list[str] | None = None) -> list[Employee]:
    rng = random.Random(seed)
    names = list(FUNCTION_TOPICS) if functions is None else functions
    everyone_topics = sorted({t for topics in FUNCTION_TOPICS.values() for t in topics})
    people = []
    for i in range(size):
        function = names[i % len(names)]
        own = FUNCTION_TOPICS.get(function, everyone_topics)
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 7 + i // len(FIRST)) % len(LAST)]}"
        learn_pool = [t for t in everyone_topics if t not in own]
        people.append(
            Employee(
                user_id=f"U{1000 + i:05d}",
                name=name,
                function=function,
                title=TITLES.get(function, function),
                tz=TIMEZONES[rng.randrange(len(TIMEZONES))],
                speaks=rng.sample(own, k=min(len(own), rng.randint(2, 3))),
                learns=rng.sample(learn_pool, k=rng.randint(2, 3)),
            )
        )
    return people
