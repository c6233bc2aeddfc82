"""Issue 25: several members per GPU in the local pool, and the GPU switches of a member's
command line."""

from __future__ import annotations

import pytest

from jlonevae_lib.cli.train import build_parser, config_from_args
from jlonevae_lib.sweep.local import plan_workers, slot_environment
from jlonevae_lib.sweep.members import train_arguments
from jlonevae_lib.train.config import TrainConfig


@pytest.mark.parametrize("jobs, cores, gpus, expected_devices, threads, per_gpu", [
    (4, 16, ("0",), ("0",) * 4, 4, 4),                    # 4 members share the one GPU
    (None, 16, ("0",), ("0",), 16, 1),                      # default: one per GPU
    (8, 16, ("0", "1"), ("0", "1") * 4, 2, 4),              # 4 per GPU, alternating
    (3, 16, ("2", "5"), ("2", "5", "2"), 5, 2),             # uneven: at most 2 on one
    (4, 16, (), (None,) * 4, 4, 0),                         # no GPU
])
def test_members_share_a_gpu(jobs, cores, gpus, expected_devices, threads, per_gpu) -> None:
    plan = plan_workers(jobs, cores, gpus)
    assert plan.devices == expected_devices
    assert plan.threads == threads and plan.jobs * plan.threads <= cores
    gpus = [device for device in plan.devices if device is not None]
    assert max((gpus.count(device) for device in set(gpus)), default=0) == per_gpu
    assert plan.note == ""  # nothing was changed from what was asked


def test_each_sharing_slot_sees_the_same_gpu_and_its_share_of_cores() -> None:
    plan = plan_workers(4, 16, ("3",))
    envs = [slot_environment({"PATH": "/bin"}, plan, slot) for slot in range(plan.jobs)]
    assert {env["CUDA_VISIBLE_DEVICES"] for env in envs} == {"3"}
    assert {env["OMP_NUM_THREADS"] for env in envs} == {"4"}


@pytest.mark.parametrize("allow_tf32, deterministic", [(True, False), (False, True),
                                                      (True, True), (False, False)])
def test_a_members_gpu_switches_survive_its_command_line(allow_tf32, deterministic) -> None:
    config = TrainConfig(dataset="threeDots", num_batches=10, device="cuda",
                         allow_tf32=allow_tf32, deterministic=deterministic)
    rebuilt = config_from_args(build_parser().parse_args(train_arguments(config)))
    assert rebuilt == config


def test_a_study_takes_the_gpu_switches_from_set() -> None:
    from jlonevae_lib.sweep.studies import available_studies, get_study, parse_setting
    from jlonevae_lib.utils.errors import JLoneVAEError

    study = get_study(available_studies()[0])
    assert parse_setting(study, "allow_tf32", "true") is True
    assert parse_setting(study, "deterministic", "False") is False
    with pytest.raises(JLoneVAEError, match="expected bool"):
        parse_setting(study, "deterministic", "maybe")
