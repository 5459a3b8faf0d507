"""The narrowing sampler: the same choices llama.cpp's chain would make, seeded and repeatable."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.engine.sampler import Sampler
from desktop_app.settings import GenerationSettings


def _logits(values: dict[int, float], n: int = 4096, floor: float = -50.0) -> np.ndarray:
    logits = np.full(n, floor, dtype=np.float32)
    for token, value in values.items():
        logits[token] = value
    return logits


def _draws(settings: GenerationSettings, logits: np.ndarray, count: int) -> np.ndarray:
    sampler = Sampler(settings)
    return np.array([sampler.sample(logits.copy()) for _ in range(count)])


def test_greedy_and_top_k_1_take_the_best_token() -> None:
    logits = _logits({5: 1.0, 70_000: 3.0, 9: 2.9}, n=262_144)  # Gemma 3's vocabulary size
    assert Sampler(GenerationSettings(temperature=0.0)).sample(logits.copy()) == 70_000
    assert Sampler(GenerationSettings(top_k=1, seed=3)).sample(logits.copy()) == 70_000


def test_same_seed_same_tokens_other_seed_other_tokens() -> None:
    logits = _logits({i: float(i % 7) for i in range(0, 200_000, 997)}, n=262_144)
    a = _draws(GenerationSettings(seed=11), logits, 200)
    b = _draws(GenerationSettings(seed=11), logits, 200)
    c = _draws(GenerationSettings(seed=12), logits, 200)
    assert (a == b).all() and not (a == c).all()


def test_frequencies_follow_the_softmax_at_the_temperature() -> None:
    logits = _logits({1: 2.0, 2: 1.0, 3: 0.0})
    settings = GenerationSettings(temperature=0.5, top_p=1.0, top_k=0, seed=1)
    draws = _draws(settings, logits, 20_000)
    expected = np.exp(np.array([2.0, 1.0, 0.0]) / 0.5)
    expected /= expected.sum()
    observed = np.array([(draws == t).mean() for t in (1, 2, 3)])
    # 20,000 seeded draws: the standard error is below 0.004 for every share.
    assert np.allclose(observed, expected, atol=0.015)
    assert set(np.unique(draws)) <= {1, 2, 3}


def test_top_k_keeps_only_the_k_best() -> None:
    logits = _logits({t: 5.0 - t * 0.01 for t in range(1, 101)})
    draws = _draws(GenerationSettings(top_k=10, top_p=1.0, seed=2), logits, 3000)
    assert set(np.unique(draws)) == set(range(1, 11))


def test_top_p_cuts_the_tail_on_the_untempered_distribution() -> None:
    # Probabilities at temperature 1: about 0.665, 0.245, 0.090.
    logits = _logits({1: 2.0, 2: 1.0, 3: 0.0})
    draws = _draws(GenerationSettings(top_p=0.8, top_k=0, temperature=3.0, seed=4), logits, 3000)
    assert set(np.unique(draws)) == {1, 2}
    draws = _draws(GenerationSettings(top_p=0.5, top_k=0, temperature=3.0, seed=4), logits, 500)
    assert set(np.unique(draws)) == {1}


def test_min_p_drops_tokens_far_below_the_best() -> None:
    logits = _logits({1: 2.0, 2: 1.5, 3: -1.0})  # token 3 has ~4.5% of token 1's probability
    draws = _draws(GenerationSettings(min_p=0.1, top_p=1.0, top_k=0, seed=5), logits, 3000)
    assert set(np.unique(draws)) == {1, 2}


def test_repeat_penalty_pushes_recent_tokens_down() -> None:
    logits = _logits({1: 2.0, 2: 1.9})
    sampler = Sampler(GenerationSettings(temperature=0.0, repeat_penalty=1.5))
    assert sampler.sample(logits.copy()) == 1
    # Token 1 was just produced: 2.0 / 1.5 < 1.9, so greedy now takes token 2.
    assert sampler.sample(logits.copy()) == 2


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.0])
def test_tokens_far_below_the_best_are_never_drawn(temperature: float) -> None:
    logits = _logits({1: 10.0, 2: 9.0}, floor=-30.0)
    draws = _draws(GenerationSettings(temperature=temperature, top_k=0, top_p=1.0, seed=6), logits, 2000)
    assert set(np.unique(draws)) <= {1, 2}


@pytest.mark.parametrize(
    "settings",
    [
        GenerationSettings(seed=21),  # the app's defaults: top-k 64, top-p 0.95, temperature 1
        GenerationSettings(seed=22, top_k=0, top_p=0.9, temperature=0.7),
        GenerationSettings(seed=23, top_k=400, top_p=1.0, min_p=0.05, temperature=1.3),
    ],
)
def test_picks_what_llama_cpps_chain_picks_on_the_whole_vocabulary(
    settings: GenerationSettings,
) -> None:
    import ctypes

    import llama_cpp

    from desktop_app.engine.sampler import TOKEN_DATA, _chain

    rng = np.random.default_rng(settings.seed)
    ours = Sampler(settings)
    reference = _chain(settings, settings.seed)
    try:
        for _ in range(50):
            # Peaked like a language model's output: a few strong tokens over a wide floor.
            logits = (rng.standard_normal(262_144) * 2.0).astype(np.float32)
            logits[rng.integers(0, 262_144, 30)] += rng.uniform(5, 12, 30).astype(np.float32)
            full = np.empty(len(logits), TOKEN_DATA)
            full["id"] = np.arange(len(logits))
            full["logit"] = logits
            array = llama_cpp.llama_token_data_array(
                full.ctypes.data_as(llama_cpp.llama_token_data_p), len(full), -1, False
            )
            llama_cpp.llama_sampler_apply(reference, ctypes.byref(array))
            assert ours.sample(logits.copy()) == int(full["id"][array.selected])
    finally:
        llama_cpp.llama_sampler_free(reference)
