"""The offline corpus: short, simple stories generated from templates, deterministic per seed.

A stand-in for TinyStories when the Hugging Face Hub cannot be reached: a character with a trait
goes to a place, meets a friend, something happens (a lost object, a storm, a race, a shared
snack, a fear), and it ends with a feeling and a lesson. Words, plots and sentence variants are
drawn from fixed lists with :class:`random.Random`, so the same seed gives the same stories on
every machine, and the validation stories never repeat a training story word for word.
"""

from __future__ import annotations

import dataclasses
import random

NAMES = (
    "Lily", "Tom", "Mia", "Ben", "Sara", "Max", "Anna", "Leo", "Zoe", "Sam", "Lucy", "Jack",
    "Emma", "Tim", "Rosa", "Finn", "Nora", "Eli", "Ivy", "Oscar", "Ruby", "Hugo", "Maya", "Kai",
)  # fmt: skip
ANIMALS = (
    "cat", "dog", "bunny", "bird", "frog", "duck", "bear", "fox", "mouse", "turtle", "owl",
    "puppy", "kitten", "squirrel", "lamb", "pig",
)  # fmt: skip
TRAITS = (
    "little", "happy", "brave", "shy", "curious", "kind", "silly", "clever", "tiny", "sleepy",
    "friendly", "busy",
)  # fmt: skip
PLACES = (
    "park", "garden", "forest", "beach", "farm", "lake", "hill", "playground", "village",
    "meadow", "river", "kitchen", "school", "zoo",
)  # fmt: skip
OBJECTS = (
    "ball", "kite", "hat", "red box", "toy car", "doll", "blue cup", "shiny stone", "book",
    "drum", "teddy bear", "yellow flower", "boat", "balloon", "cookie", "map",
)  # fmt: skip
COLORS = ("red", "blue", "green", "yellow", "pink", "purple", "orange", "white")
FOODS = ("apples", "cookies", "bread", "cake", "carrots", "berries", "soup", "pie", "cheese")
WEATHER = ("sunny", "windy", "rainy", "warm", "cold", "cloudy", "bright")
FEELINGS = ("happy", "proud", "glad", "calm", "safe", "warm inside", "excited", "thankful")
LESSONS = (
    "sharing makes everyone happy",
    "friends help each other",
    "it is good to be brave",
    "you should always say sorry",
    "being kind is the best thing",
    "it is fun to try new things",
    "you should listen to your mom",
    "patience is important",
    "helping others feels good",
    "it is okay to ask for help",
)
OPENINGS = (
    "Once upon a time, there was a {trait} {animal} named {name}.",
    "One day, a {trait} {animal} called {name} woke up early.",
    "There once was a {trait} {animal}. Its name was {name}.",
    "Long ago, in a small {place}, lived a {trait} {animal} named {name}.",
    "{name} was a {trait} {animal} who loved the {place}.",
)


@dataclasses.dataclass
class StoryCorpus:
    """Training and validation texts of the offline corpus."""

    train: list[str]
    validation: list[str]


def story_corpus(train_size: int = 4000, validation_size: int = 400, seed: int = 0) -> StoryCorpus:
    """``train_size`` training stories and ``validation_size`` different validation stories."""
    if train_size < 1 or validation_size < 0:
        raise ValueError(
            f"need train_size >= 1 and validation_size >= 0, got {train_size}, {validation_size}"
        )
    rng = random.Random(seed)
    train = [make_story(rng) for _ in range(train_size)]
    seen = set(train)
    validation: list[str] = []
    while len(validation) < validation_size:
        story = make_story(rng)
        if story not in seen:
            seen.add(story)
            validation.append(story)
    return StoryCorpus(train=train, validation=validation)


def make_story(rng: random.Random) -> str:
    """One story: an opening, a setting, a plot of three to five sentences and an ending."""
    hero = _character(rng)
    friend = _character(rng, avoid=hero["name"])
    place = rng.choice(PLACES)
    words = {
        **hero,
        **{f"friend_{key}": value for key, value in friend.items()},
        "place": place,
        "object": rng.choice(OBJECTS),
        "color": rng.choice(COLORS),
        "food": rng.choice(FOODS),
        "weather": rng.choice(WEATHER),
        "feeling": rng.choice(FEELINGS),
        "lesson": rng.choice(LESSONS),
    }
    sentences = [rng.choice(OPENINGS), rng.choice(_SETTINGS)]
    sentences += rng.choice(_PLOTS)(rng)
    sentences.append(rng.choice(_ENDINGS))
    if rng.random() < 0.6:
        sentences.append(rng.choice(_MORALS))
    return " ".join(sentence.format(**words) for sentence in sentences)


def _character(rng: random.Random, avoid: str | None = None) -> dict[str, str]:
    name = rng.choice([name for name in NAMES if name != avoid])
    return {"name": name, "animal": rng.choice(ANIMALS), "trait": rng.choice(TRAITS)}


_SETTINGS = (
    "It was a {weather} day, so {name} went to the {place}.",
    "The sun was up and the sky was {color}. {name} ran to the {place}.",
    "{name} wanted to play, so {name} went to the {place} with a {object}.",
    'Mom said, "Go and play in the {place}, {name}." {name} was very happy.',
    "Every morning, {name} liked to walk to the {place} and look at the sky.",
)
_ENDINGS = (
    "At the end of the day, {name} felt {feeling}.",
    "{name} and {friend_name} smiled. They were best friends now.",
    "That night, {name} went to bed feeling {feeling}.",
    '{name} hugged {friend_name} and said, "Thank you!"',
    "They played in the {place} until the sun went down.",
)
_MORALS = (
    "{name} learned that {lesson}.",
    "From that day on, {name} knew that {lesson}.",
    "The end.",
)


def _lost_object(rng: random.Random) -> list[str]:
    return [
        "{name} had a {object}, but one day the {object} was gone.",
        rng.choice(
            (
                "{name} looked under the trees and behind the rocks.",
                "{name} was sad and started to cry.",
                '{name} asked everyone, "Have you seen my {object}?"',
            )
        ),
        "Then {name} met a {friend_trait} {friend_animal} named {friend_name}.",
        rng.choice(
            (
                '{friend_name} said, "I will help you look!"',
                '{friend_name} pointed and said, "Look, it is over there!"',
                "Together they searched the whole {place}.",
            )
        ),
        "At last they found the {object} near a {color} flower.",
    ]


def _storm(rng: random.Random) -> list[str]:
    return [
        "Suddenly, the sky became dark and the wind began to blow.",
        rng.choice(
            (
                "{name} was scared of the big storm.",
                "Big drops of rain fell on {name}'s head.",
                "There was a loud boom, and {name} jumped.",
            )
        ),
        'A {friend_trait} {friend_animal} named {friend_name} called, "Come inside with me!"',
        rng.choice(
            (
                "They sat together and ate {food} while the rain fell.",
                "{friend_name} told a funny story, and {name} laughed.",
                "They waited until the storm was over.",
            )
        ),
    ]


def _sharing(rng: random.Random) -> list[str]:
    return [
        "{name} had some {food} for lunch.",
        "A {friend_trait} {friend_animal} named {friend_name} looked very hungry.",
        rng.choice(
            (
                "At first, {name} did not want to share.",
                "{name} thought for a moment.",
                "{name} looked at the {food} and then at {friend_name}.",
            )
        ),
        'Then {name} said, "Do you want some {food}?"',
        rng.choice(
            (
                '{friend_name} smiled and said, "Yes, please!"',
                "They ate the {food} together under a big tree.",
                "The {food} tasted even better when they shared it.",
            )
        ),
    ]


def _race(rng: random.Random) -> list[str]:
    return [
        "{name} saw a {friend_trait} {friend_animal} named {friend_name}.",
        '"Let\'s have a race to the {color} tree!" said {friend_name}.',
        rng.choice(
            (
                "They ran as fast as they could.",
                "{name} ran fast, but {friend_name} ran faster.",
                "On the way, {name} fell down and hurt a knee.",
            )
        ),
        rng.choice(
            (
                "{friend_name} stopped to help {name} get up.",
                "In the end, they reached the tree at the same time.",
                "It did not matter who won, because the race was fun.",
            )
        ),
    ]


def _new_thing(rng: random.Random) -> list[str]:
    return [
        "In the {place}, {name} found a big {color} {object}.",
        rng.choice(
            (
                "{name} had never seen anything like it before.",
                "{name} wondered what it could do.",
                "It was strange, and {name} felt a little afraid.",
            )
        ),
        "A {friend_trait} {friend_animal} named {friend_name} came to look.",
        rng.choice(
            (
                '"Let\'s try it together," said {friend_name}.',
                "{friend_name} showed {name} how to play with it.",
                "They took turns and had lots of fun.",
            )
        ),
        "Soon {name} was not afraid anymore.",
    ]


_PLOTS = (_lost_object, _storm, _sharing, _race, _new_thing)
