"""The offline story corpus: deterministic, varied, with validation apart from training."""

from __future__ import annotations

import random

import pytest

from hf_tracking.corpus import make_story, story_corpus


def test_same_seed_same_stories_and_other_seed_other_stories():
    first = story_corpus(200, 20, seed=3)
    assert first == story_corpus(200, 20, seed=3)
    assert story_corpus(200, 20, seed=4).train != first.train


def test_sizes_and_validation_differs_from_training():
    corpus = story_corpus(3000, 300)
    assert len(corpus.train) == 3000
    assert len(corpus.validation) == 300
    assert not set(corpus.validation) & set(corpus.train)
    assert len(set(corpus.validation)) == 300


def test_stories_are_short_simple_and_varied():
    corpus = story_corpus(2000, 10)
    assert len(set(corpus.train)) > 1900
    lengths = [len(story.split()) for story in corpus.train]
    assert 30 <= sum(lengths) / len(lengths) <= 150
    assert max(lengths) < 200
    words = {word.strip('.,!?"').lower() for story in corpus.train for word in story.split()}
    assert len(words) > 200
    openings = {" ".join(story.split()[:3]) for story in corpus.train}
    assert len(openings) >= 5
    for story in corpus.train[:200]:
        assert "{" not in story and "}" not in story
        assert story[-1] in '.!"'


def test_make_story_uses_the_random_generator_it_is_given():
    assert make_story(random.Random(1)) == make_story(random.Random(1))


@pytest.mark.parametrize("sizes", [(0, 10), (10, -1)])
def test_bad_sizes_are_errors(sizes):
    with pytest.raises(ValueError):
        story_corpus(*sizes)
