"""How fast will a model write here?  Decode speed estimated from what this machine can move.

Writing a token reads every weight of the model once (Gemma 3 ties its output layer to the
262,144-token embedding table, so the whole file is read, not only the layers), so on a CPU the
speed is set by memory bandwidth: tokens/s ~ bandwidth / model bytes.  Measured here with one
thread (CPU seconds per token, bench/speed_estimate.py --cpu-time), Gemma-3-shaped Q4_0 files of
571 MB (1B) and 2,192 MB (4B) took 55-59 ms per GB alike: time proportional to bytes.  The
bandwidth is measured (:func:`measure_machine_speed`: all physical cores copy buffers larger than
any cache, and one core alone is timed by the CPU time it used, which a busy machine does not
inflate; a fraction of a second), and one constant, :data:`CPU_DECODE_EFFICIENCY`, turns copy
bandwidth into what llama.cpp's decode achieves; it was fitted on this project's 2-core build
machine with the real Gemma 3 270M (see the constant).

A GPU's memory cannot be measured portably from Python, so documented conservative figures stand
in (:data:`NVIDIA_BANDWIDTH_PER_GIB`, :data:`APPLE_MIN_BANDWIDTH`); on Apple silicon the GPU
reaches at least what the CPU cores measure on the same memory, so the larger of the two is used.

Everything but :func:`measure_machine_speed` is a pure function of numbers, so the window and
``models list`` can show an expected speed for any catalog entry or file.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from desktop_app.models.fit import MachineMemory
from desktop_app.models.sizes import GIB, MIB
from desktop_app.settings import physical_cores

USABLE_TOKENS_PER_SECOND = 7.5
"""The first-run choice wants about 8 tokens a second: a reply then appears faster than most
people read it (4-5 words, 5-7 tokens, a second).  7.5 rather than 8 because the estimate is good
to about a tenth, and errs low for Q4_0 files: one thread decodes them at 55-59 ms per GB here,
the 270M's Q4_K_M (which the efficiency was fitted on) at 110 ms per GB."""

CPU_DECODE_EFFICIENCY = 1.05
"""Weight bytes decoded per second over the probe's copy bandwidth (which counts each byte read
and written; decoding only reads, so this can pass 1).  Fitted on the build machine (AMD EPYC,
2 cores, 32 MiB L3), where the probe reads 20-22 GB/s when the machine is not busy and the real
Gemma 3 270M Q4_K_M (253 MB) decodes at 72-100 tokens/s (llama-bench tg128 72-80 in
ENGINE-FACTS.md, this app 97 in bench/results): the estimate there is 77-82 tokens/s."""

PER_TOKEN_OVERHEAD_S = 0.001
"""What a token costs besides reading the weights: building the graph, sampling (~0.08 ms),
the token loop.  A tenth of the 270M's ~13 ms token, nothing for a 4B's ~120 ms one."""

NVIDIA_BANDWIDTH_PER_GIB = 11 * 10**9
"""Effective decode bandwidth per GiB of an NVIDIA card's memory.  Cards sold since 2019 have at
least ~16 GB/s of memory bandwidth per GB of memory (GTX 1650: 128 GB/s for 4 GB, RTX 4060 Ti
16 GB: 288 GB/s, RTX A6000: 768 GB/s for 48 GB; most have 30-40), and decode reaches about 70% of
it: a conservative figure, since the card's real bandwidth cannot be read portably."""

APPLE_MIN_BANDWIDTH = 60 * 10**9
"""Effective decode bandwidth of the slowest Apple silicon (M1: 68 GB/s unified memory)."""

PROBE_BYTES = 256 * MIB
"""Source and destination buffers of the bandwidth probe together: beyond the caches of
desktop and laptop CPUs (32-128 MiB of L3), small enough to map in a tenth of a second."""

ONE_CORE_CPU_S = 0.05
"""CPU time the one-core measurement runs for (at least)."""

PROBE_ROUNDS = 8
"""The best of several short rounds: the first also pays for mapping the destination's pages,
and on a busy machine one round in several still gets the cores to itself (on the build machine
at a load of 13 on 2 cores, 3 rounds measured 6 GB/s, 10 rounds 22 GB/s, the quiet value)."""

Device = Literal["CPU", "CUDA", "Metal"]


@dataclass(frozen=True)
class MachineSpeed:
    """What this machine can move, in bytes per second, where a model may run."""

    cpu_bandwidth: float
    """Copy bandwidth measured with all physical cores (bytes read plus bytes written)."""
    gpu_bandwidth: float | None = None
    """Effective decode bandwidth of the GPU llama.cpp offloads to; None without one."""
    gpu: Device | None = None


@dataclass(frozen=True)
class SpeedEstimate:
    """Expected decode speed of one model here, and where it would run."""

    tokens_per_second: float
    device: Device

    @property
    def usable(self) -> bool:
        return self.tokens_per_second >= USABLE_TOKENS_PER_SECOND

    def __str__(self) -> str:
        """'about 12 tokens/s on the CPU': what ``models list`` prints."""
        where = "the CPU" if self.device == "CPU" else f"the GPU ({self.device})"
        return f"about {self.rounded} tokens/s on {where}"

    @property
    def rounded(self) -> str:
        """Two significant figures at most: the estimate is good to a few tens of per cent."""
        value = self.tokens_per_second
        if value >= 10:
            return f"{round(value, -1 if value >= 100 else 0):.0f}"
        return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def estimate_decode_speed(model_bytes: int, machine: MachineSpeed, *, on_gpu: bool) -> SpeedEstimate:
    """Tokens a second a model of ``model_bytes`` (its weights file; a projector is not read per
    token) writes at the start of a conversation, on the GPU when ``on_gpu`` and there is one.

    At long contexts the KV cache is read per token too, so a long conversation is slower.
    """
    if on_gpu and machine.gpu_bandwidth is not None and machine.gpu is not None:
        bandwidth, device = machine.gpu_bandwidth, machine.gpu
    else:
        bandwidth, device = machine.cpu_bandwidth * CPU_DECODE_EFFICIENCY, "CPU"
    seconds = model_bytes / bandwidth + PER_TOKEN_OVERHEAD_S
    return SpeedEstimate(1.0 / seconds, device)


def gpu_speed(memory: MachineMemory, cpu_bandwidth: float) -> tuple[float | None, Device | None]:
    """The GPU's effective bandwidth and kind from what :func:`fit.machine_memory` found."""
    if memory.unified:
        return max(APPLE_MIN_BANDWIDTH, cpu_bandwidth * CPU_DECODE_EFFICIENCY), "Metal"
    if memory.gpu_total:
        return memory.gpu_total / GIB * NVIDIA_BANDWIDTH_PER_GIB, "CUDA"
    return None, None


def measure_machine_speed(memory: MachineMemory) -> MachineSpeed:
    """Measure the CPU's memory bandwidth (once per process) and add the GPU's figure."""
    cpu = cpu_copy_bandwidth()
    gpu_bandwidth, gpu = gpu_speed(memory, cpu)
    return MachineSpeed(cpu, gpu_bandwidth, gpu)


@lru_cache(maxsize=1)
def cpu_copy_bandwidth() -> float:
    """Bytes a second this machine copies between buffers no cache holds (read + write).

    Measured twice, the larger counting: all physical cores at once by the clock on the wall
    (llama.cpp decodes with one thread per physical core; numpy's copy releases the GIL, so the
    threads really run together), and one core by the CPU time it used, which waiting for a core
    does not add to.  On the build machine the two agree when it is quiet (20-22 GB/s), but with
    other programs keeping its 2 cores busy the first read 7-15 GB/s and the second still 17-21:
    the machine's capability, not the moment's, is what the first-run choice needs.  Takes
    0.1-0.3 s, mostly mapping the buffers' pages.
    """
    threads = max(1, physical_cores())
    chunk = max(MIB, PROBE_BYTES // (2 * threads))
    sources = [np.ones(chunk, np.uint8) for _ in range(threads)]
    targets = [np.empty(chunk, np.uint8) for _ in range(threads)]
    all_cores = 0.0
    for _ in range(PROBE_ROUNDS):
        start = threading.Barrier(threads + 1)

        def copy(index: int, start: threading.Barrier = start) -> None:
            start.wait()
            np.copyto(targets[index], sources[index])

        workers = [threading.Thread(target=copy, args=(i,), daemon=True) for i in range(threads)]
        for worker in workers:
            worker.start()
        start.wait()
        began = time.perf_counter()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - began
        all_cores = max(all_cores, 2 * chunk * threads / max(elapsed, 1e-9))
    return max(all_cores, _one_core_by_cpu_time(sources, targets))


def _one_core_by_cpu_time(sources: list[np.ndarray], targets: list[np.ndarray]) -> float:
    """Copy bandwidth of this thread alone, per CPU second it used (not per second waited)."""
    copied, spent = 0, 0.0
    # Until the CPU time is long enough to read: Windows counts thread time in 15.6 ms steps.
    while spent < ONE_CORE_CPU_S and copied < 64 * PROBE_BYTES:
        began = time.thread_time()
        for source, target in zip(sources, targets, strict=True):
            np.copyto(target, source)
        spent += time.thread_time() - began
        copied += 2 * sum(source.nbytes for source in sources)
    return copied / spent if spent > 0 else 0.0
