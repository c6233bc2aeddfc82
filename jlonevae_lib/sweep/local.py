"""The local backend: a pool of worker slots on this machine.

Each slot runs one member at a time (its training process, then its evaluation process). With
GPUs, slot k sees only GPU k mod n (``CUDA_VISIBLE_DEVICES``), so ``--jobs`` = the number of
GPUs puts one run on each, and ``--jobs`` = N × GPUs puts N on each: the slots that share a GPU
train side by side on it (each its own process, CUDA context and memory). On the CPU the cores
are divided so that jobs × threads ≤ cores (:func:`plan_workers`), since torch left alone gives
every process all of them and the runs then stall each other; with GPUs the cores are divided
alike among the slots (each draws its batches and launches its kernels from the CPU).

Why several members per GPU: the paper's network is small (a 64×64 convolutional VAE at batch
64), so one training process leaves most of a large GPU idle between kernel launches; a few
processes on the same GPU fill those gaps and the study's total batches/s grows until the GPU is
busy or its memory full. How to choose N (docs/gpu.md): the device check
(``benchmarks/cuda_pipeline_check.py``, part "members per GPU") measures 4 members against 1 and
reports each member's peak memory; take the N past which the total stops growing, within
GPU memory / (peak memory + what each process's CUDA context costs, docs/gpu.md).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from jlonevae_lib.sweep.runner import Decision, Outcome, run_member
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.threads import with_thread_count


@dataclass(frozen=True)
class WorkerPlan:
    """How many members run at once, the threads each gets, and each slot's GPU."""

    jobs: int
    threads: int
    #: Per slot, the ``CUDA_VISIBLE_DEVICES`` it sets, or None (CPU, or the GPUs left as they
    #: are).
    devices: tuple[str | None, ...]
    #: Why the plan differs from what was asked, if it does.
    note: str = ""


def plan_workers(jobs: int | None, cores: int, gpus: Sequence[str] = (),
                 threads: int | None = None) -> WorkerPlan:
    """Slots and threads for ``jobs`` workers (None: one per GPU, else one) on ``cores`` cores
    and the visible ``gpus`` (their ``CUDA_VISIBLE_DEVICES`` ids).

    On the CPU, ``jobs`` is capped at ``cores`` and each job gets ``cores // jobs`` threads, so
    jobs × threads ≤ cores. An explicit ``threads`` is kept as given. With GPUs, slots take the
    GPUs round-robin and share the cores alike; more jobs than GPUs is allowed and puts
    ``jobs / GPUs`` members on each (see the module docstring for choosing it).
    """
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    if jobs is not None and jobs < 1:
        raise JLoneVAEError(f"--jobs must be >= 1, got {jobs}")
    if threads is not None and threads < 1:
        raise JLoneVAEError(f"--threads must be >= 1, got {threads}")
    note = ""
    if gpus:
        jobs = jobs or len(gpus)
        devices: tuple[str | None, ...] = tuple(gpus[k % len(gpus)] for k in range(jobs))
    else:
        jobs = jobs or 1
        if threads is None and jobs > cores:
            note = f"{jobs} jobs on {cores} cores: running {cores} at a time"
            jobs = cores
        devices = (None,) * jobs
    if threads is None:
        threads = max(1, cores // jobs)
    return WorkerPlan(jobs=jobs, threads=threads, devices=devices, note=note)


def slot_environment(base: Mapping[str, str], plan: WorkerPlan, slot: int) -> dict[str, str]:
    """The environment of slot ``slot``'s processes: ``base`` with its thread count and GPU."""
    env = with_thread_count(base, plan.threads)
    if plan.devices[slot] is not None:
        env["CUDA_VISIBLE_DEVICES"] = plan.devices[slot]
    return env


def run_local(decisions: Sequence[Decision], plan: WorkerPlan, *, base_env: Mapping[str, str],
              metrics: Sequence[str], metric_names: Sequence[str],
              only_dataset: str | None = None, overwrite: bool = False,
              print_line: Callable[[str], None] = print,
              kept_metrics: Sequence[str] = ()) -> list[Outcome]:
    """Run every decision's work on ``plan.jobs`` slots, in member order; the outcomes in the
    order they finished. Output lines are prefixed with the member's index."""
    free_slots: queue.Queue[int] = queue.Queue()
    for slot in range(plan.jobs):
        free_slots.put(slot)
    print_lock = threading.Lock()
    stopping = threading.Event()
    outcomes: list[Outcome] = []

    def work(decision: Decision) -> Outcome | None:
        if stopping.is_set():
            return None
        slot = free_slots.get()
        index = decision.member.index

        def output(line: str) -> None:
            with print_lock:
                print_line(f"[{index}] {line}")

        try:
            output(f"== {decision.member.label}: {decision.note} (slot {slot})")
            outcome = run_member(decision, metrics=metrics, metric_names=metric_names,
                                 kept_metrics=kept_metrics,
                                 only_dataset=only_dataset, overwrite=overwrite,
                                 env=slot_environment(base_env, plan, slot), output=output)
            output(f"== {decision.member.label}: {outcome.result}"
                   + (f" ({outcome.detail})" if outcome.detail else ""))
            with print_lock:
                outcomes.append(outcome)
            return outcome
        finally:
            free_slots.put(slot)

    pool = ThreadPoolExecutor(max_workers=plan.jobs, thread_name_prefix="sweep-slot")
    try:
        futures = [pool.submit(work, decision) for decision in decisions]
        for future in futures:
            future.result()
    except BaseException:
        # Ctrl-C: the running members' processes got the signal too and checkpoint; start
        # no more.
        stopping.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return outcomes
