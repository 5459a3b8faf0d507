"""The narrowing sampler: the same choices llama.cpp's chain would make, seeded and repeatable."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.engine._candidates import candidates
from desktop_app.engine.sampler import TOKEN_DATA, Sampler
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


@pytest.mark.parametrize("n_vocab", [262_144, 50_021])  # Gemma 3's, and one not a multiple of 32
@pytest.mark.parametrize(
    "settings",
    [
        GenerationSettings(seed=21),  # the app's defaults: top-k 64, top-p 0.95, temperature 1
        GenerationSettings(seed=22, top_k=0, top_p=0.9, temperature=0.7),
        GenerationSettings(seed=23, top_k=400, top_p=1.0, min_p=0.05, temperature=1.3),
    ],
)
def test_picks_what_llama_cpps_chain_picks_on_the_whole_vocabulary(
    settings: GenerationSettings, n_vocab: int
) -> None:
    import ctypes

    import llama_cpp

    from desktop_app.engine.sampler import _chain

    rng = np.random.default_rng(settings.seed)
    ours = Sampler(settings)
    reference = _chain(settings, settings.seed)
    try:
        for _ in range(50):
            # Peaked like a language model's output: a few strong tokens over a wide floor.
            logits = (rng.standard_normal(n_vocab) * 2.0).astype(np.float32)
            logits[rng.integers(0, n_vocab, 30)] += rng.uniform(5, 12, 30).astype(np.float32)
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


def _candidate_ids(logits: np.ndarray, top_k: int, margin: float = 30.0) -> np.ndarray:
    out = np.empty(len(logits), TOKEN_DATA)
    n = candidates(logits, out, top_k, margin)
    found = out[:n]
    assert (found["logit"] == logits[found["id"]]).all()  # each record carries its own logit
    assert len(np.unique(found["id"])) == n  # and no token comes twice
    return np.sort(found["id"])


@pytest.mark.parametrize("n_vocab", [262_144, 4_099, 31])
@pytest.mark.parametrize("top_k", [1, 64, 400])
def test_the_candidate_pass_keeps_every_token_top_k_can_keep(n_vocab: int, top_k: int) -> None:
    rng = np.random.default_rng(n_vocab + top_k)
    for trial in range(20):
        logits = (rng.standard_normal(n_vocab) * 3).astype(np.float32)
        if trial % 2:  # ties at the cut, and whole columns of one value
            logits = np.round(logits)
        ids = _candidate_ids(logits, top_k)
        kth = np.sort(logits)[-min(top_k, n_vocab)]
        assert set(np.flatnonzero(logits >= kth)) <= set(ids)
        if n_vocab >= 32 * top_k:  # a few hundred records at most, not the vocabulary
            assert len(ids) <= 32 * top_k + n_vocab % 32


def test_the_candidate_pass_without_top_k_keeps_exactly_what_is_within_the_margin() -> None:
    logits = (np.random.default_rng(7).standard_normal(100_003) * 8).astype(np.float32)
    ids = _candidate_ids(logits, 0, margin=12.5)
    assert (ids == np.flatnonzero(logits >= logits.max() - np.float32(12.5))).all()


def test_the_candidate_pass_skips_nan_and_an_all_nan_vector_is_an_error() -> None:
    logits = np.full(4096, np.nan, dtype=np.float32)
    logits[[7, 4000]] = [1.0, -np.inf]
    assert list(_candidate_ids(logits, 64)) == [7, 4000]
    assert list(_candidate_ids(logits, 0)) == [7]
    with pytest.raises(RuntimeError, match="NaN"):
        Sampler(GenerationSettings(seed=1)).sample(np.full(4096, np.nan, dtype=np.float32))


def test_the_candidate_pass_refuses_buffers_it_cannot_use() -> None:
    logits = np.zeros(4096, dtype=np.float32)
    with pytest.raises(TypeError, match="float32"):
        candidates(logits.astype(np.float64), np.empty(4096, TOKEN_DATA), 64, 30.0)
    with pytest.raises(ValueError, match="room"):
        candidates(logits, np.empty(4095, TOKEN_DATA), 64, 30.0)
    with pytest.raises(ValueError, match="top_k"):
        candidates(logits, np.empty(4096, TOKEN_DATA), -1, 30.0)
