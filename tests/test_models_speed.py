"""Expected decode speed, and a first-run choice by speed as well as memory.

The estimate is a pure function of the machine's numbers, checked here against what was measured
on the build machine (2-core AMD EPYC, no GPU: copy bandwidth 20-22 GB/s, the real Gemma 3 270M
at 72-100 tokens/s); the probe itself is checked for giving a plausible number, never for time.
"""

from __future__ import annotations

import pytest

from desktop_app.models import speed
from desktop_app.models.catalog import load_catalog
from desktop_app.models.fit import MachineMemory
from desktop_app.models.sizes import GIB
from desktop_app.models.speed import MachineSpeed, SpeedEstimate, estimate_decode_speed

CATALOG = load_catalog()
GEMMA_270M_BYTES = 253_113_024
"""The PyPI Gemma 3 270M Q4_K_M file."""

BUILD_MACHINE = MachineSpeed(cpu_bandwidth=21e9)
"""The copy bandwidth the probe reads on the build machine when it is not busy (20-22 GB/s)."""
BUILD_MEMORY = MachineMemory(total_ram=23 * GIB, available_ram=22 * GIB)


def test_the_270m_estimate_lands_within_what_was_measured_on_the_build_machine() -> None:
    for bandwidth in (20e9, 21e9, 22e9):  # the probe there when the machine is not busy
        estimate = estimate_decode_speed(GEMMA_270M_BYTES, MachineSpeed(bandwidth), on_gpu=False)
        assert 72 <= estimate.tokens_per_second <= 100, (bandwidth, estimate)  # measured range
        assert estimate.device == "CPU"


def test_on_the_build_machine_12b_is_too_slow_and_4b_is_recommended() -> None:
    by_id = {e.id: e.expected_speed(BUILD_MEMORY, BUILD_MACHINE) for e in CATALOG}
    assert 2 <= by_id["gemma-3-12b-it-qat-q4_0"].tokens_per_second <= 3.5
    assert not by_id["gemma-3-12b-it-qat-q4_0"].usable
    assert by_id["gemma-3-4b-it-qat-q4_0"].usable
    assert CATALOG.recommend(BUILD_MEMORY, BUILD_MACHINE).id == "gemma-3-4b-it-qat-q4_0"


def test_a_slow_machine_with_much_memory_gets_the_largest_model_fast_enough() -> None:
    plenty = MachineMemory(total_ram=64 * GIB, available_ram=60 * GIB)
    assert CATALOG.recommend(plenty, MachineSpeed(cpu_bandwidth=300e9)).id == "gemma-3-27b-it-qat-q4_0"
    assert CATALOG.recommend(plenty, MachineSpeed(cpu_bandwidth=80e9)).id == "gemma-3-12b-it-qat-q4_0"
    assert CATALOG.recommend(plenty, MachineSpeed(cpu_bandwidth=22e9)).id == "gemma-3-4b-it-qat-q4_0"


def test_when_nothing_is_fast_enough_the_smallest_model_is_offered() -> None:
    crawl = MachineSpeed(cpu_bandwidth=1e9)
    assert CATALOG.recommend(BUILD_MEMORY, crawl).id == "gemma-3-1b-it-qat-q4_0"
    assert not CATALOG.get("gemma-3-1b-it-qat-q4_0").expected_speed(BUILD_MEMORY, crawl).usable


def test_memory_still_decides_first() -> None:
    small = MachineMemory(total_ram=4 * GIB, available_ram=3 * GIB)
    assert CATALOG.recommend(small, MachineSpeed(cpu_bandwidth=1e12)).id == "gemma-3-1b-it-qat-q4_0"


def test_a_model_that_fits_the_gpu_runs_at_the_gpus_speed() -> None:
    card = MachineMemory(16 * GIB, 9 * GIB, gpu_total=24 * GIB, gpu_free=23 * GIB, gpu_name="RTX")
    gpu_bandwidth, kind = speed.gpu_speed(card, 22e9)
    assert kind == "CUDA" and gpu_bandwidth == 24 * speed.NVIDIA_BANDWIDTH_PER_GIB
    machine = MachineSpeed(22e9, gpu_bandwidth, kind)
    on_card = CATALOG.get("gemma-3-12b-it-qat-q4_0").expected_speed(card, machine)
    assert on_card.device == "CUDA" and on_card.usable
    # 27B asks for 32 GB of memory: on a 24 GB card with 16 GB of RAM, 12B, and fast.
    assert CATALOG.recommend(card, machine).id == "gemma-3-12b-it-qat-q4_0"
    big_card = MachineMemory(32 * GIB, 20 * GIB, gpu_total=48 * GIB, gpu_free=47 * GIB, gpu_name="A6000")
    big = MachineSpeed(22e9, *speed.gpu_speed(big_card, 22e9))
    assert CATALOG.recommend(big_card, big).id == "gemma-3-27b-it-qat-q4_0"
    assert CATALOG.get("gemma-3-27b-it-qat-q4_0").expected_speed(big_card, big).device == "CUDA"


def test_a_model_too_big_for_the_gpu_is_judged_at_the_cpus_speed() -> None:
    card = MachineMemory(64 * GIB, 60 * GIB, gpu_total=4 * GIB, gpu_free=4 * GIB, gpu_name="GTX 1650")
    gpu_bandwidth, kind = speed.gpu_speed(card, 22e9)
    machine = MachineSpeed(22e9, gpu_bandwidth, kind)
    assert CATALOG.get("gemma-3-12b-it-qat-q4_0").expected_speed(card, machine).device == "CPU"
    assert CATALOG.get("gemma-3-1b-it-qat-q4_0").expected_speed(card, machine).device == "CUDA"


def test_apple_silicon_uses_at_least_what_its_cpu_measures() -> None:
    mac = MachineMemory(32 * GIB, 20 * GIB, unified=True)
    assert speed.gpu_speed(mac, 10e9) == (speed.APPLE_MIN_BANDWIDTH, "Metal")
    fast_cpu = 200e9
    assert speed.gpu_speed(mac, fast_cpu) == (fast_cpu * speed.CPU_DECODE_EFFICIENCY, "Metal")


@pytest.mark.parametrize(
    ("tokens_per_second", "shown"),
    [(152.4, "150"), (75.6, "76"), (12.3, "12"), (7.46, "7.5"), (0.614, "0.61")],
)
def test_speeds_are_shown_with_two_significant_figures(tokens_per_second: float, shown: str) -> None:
    estimate = SpeedEstimate(tokens_per_second, "CPU")
    assert estimate.rounded == shown
    assert str(estimate) == f"about {shown} tokens/s on the CPU"


def test_the_bandwidth_probe_measures_something_plausible() -> None:
    bandwidth = speed.cpu_copy_bandwidth()
    # From a busy old laptop (~1 GB/s) to a workstation (~500 GB/s).
    assert 1e8 < bandwidth < 1e12
    assert speed.cpu_copy_bandwidth() == bandwidth  # measured once per process
