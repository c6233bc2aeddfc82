"""The repository stands on its own: the real-Slurm tests start their cluster with the project's
own harness (tests/slurm_cluster.py), nothing in the tests reaches outside the checkout, and the
harness says why when it cannot start (pytest -ra lists the reason) instead of skipping
silently."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests import slurm_cluster

REPO = Path(__file__).resolve().parents[1]
#: ``../shared``, ``shared/slurm``, the shared script's name, or ``"shared"`` as a path part
#: (``parents[2] / "shared" / "slurm"``, how the tests once found it). This file is not scanned.
OUTSIDE = re.compile(r"""\.\./shared|shared/slurm|start-local-slurm|["']shared["']""")


def test_the_harness_is_in_the_repository():
    harness = REPO / "tests" / "slurm_cluster.py"
    assert harness.is_file()
    for name in ("local_slurm", "start", "stop", "is_running", "main"):
        assert callable(getattr(slurm_cluster, name)), name
    users = [path.relative_to(REPO).as_posix() for path in (REPO / "tests").rglob("test_*.py")
             if "local_slurm" in path.read_text()]
    assert {"tests/sweep/test_slurm_backend.py",
            "tests/reliability/test_slurm_requeue.py"} <= set(users), users


def test_no_test_reaches_outside_the_repository():
    checked = [*(REPO / "tests").rglob("*"), REPO / "Makefile", REPO / "pyproject.toml",
               *(REPO / ".ci").rglob("*")]
    offenders = [path.relative_to(REPO).as_posix() for path in checked
                 if path.is_file() and path.suffix != ".pyc" and path != Path(__file__)
                 and OUTSIDE.search(path.read_text(errors="replace"))]
    assert not offenders, f"these files use the shared Slurm scripts outside the repository: " \
                          f"{offenders}"


def test_without_root_the_tests_are_skipped_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="local Slurm cluster: needs root"):
        with slurm_cluster.local_slurm(tmp_path / "slurm"):
            pass
    # Under CI the cluster must start: the same is a failure.
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs the local Slurm cluster"):
        with slurm_cluster.local_slurm(tmp_path / "slurm"):
            pass


def test_missing_packages_without_apt_get_are_named(monkeypatch):
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 0)
    monkeypatch.setattr(slurm_cluster.shutil, "which", lambda name, path=None: None)
    with pytest.raises(slurm_cluster.Unavailable,
                       match="packages .*slurmctld.* are missing and there is no apt-get"):
        slurm_cluster._check_can_start(accounting=True)


def test_the_configuration_is_the_clusters_own(tmp_path):
    config = {"options": {"accounting": True, "fast_requeue": True},
              "ports": {"ctld": 21001, "slurmd": 21002, "dbd": 21003, "db": 21004},
              "munge_socket": str(tmp_path / "munge" / "munge.sock")}
    slurm_cluster._write_slurm_conf(tmp_path, config)
    conf = dict(line.split("=", 1) for line in (tmp_path / "slurm.conf").read_text().splitlines()
                if not line.startswith(("NodeName", "PartitionName")))
    assert conf["SlurmctldPort"] == "21001" and conf["SlurmdPort"] == "21002"
    assert conf["AccountingStoragePort"] == "21003"
    # Every message, to slurmctld, slurmd or slurmdbd, is signed by this cluster's munged.
    assert conf["AuthInfo"] == f"socket={config['munge_socket']},cred_expire=10"
    assert conf["AccountingStoragePass"] == config["munge_socket"]
    # Everything the daemons write is under the state folder.
    for key in ("StateSaveLocation", "SlurmdSpoolDir", "SlurmctldPidFile", "SlurmdPidFile",
                "SlurmctldLogFile", "SlurmdLogFile"):
        assert Path(conf[key]).is_relative_to(tmp_path), key
    assert "PartitionName=debug Nodes=localhost Default=YES" in (tmp_path / "slurm.conf"
                                                                 ).read_text()


def test_free_ports_are_distinct_and_unprivileged():
    ports = slurm_cluster._free_ports(4)
    assert len(set(ports)) == 4 and all(20000 <= port < 32000 for port in ports)


def test_stopping_a_folder_with_no_cluster_does_nothing(tmp_path):
    slurm_cluster.stop(tmp_path)
    assert not slurm_cluster.is_running(tmp_path)


@pytest.mark.slow
def test_a_second_start_finds_the_running_cluster_and_a_second_folder_runs_beside_it(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    with slurm_cluster.local_slurm(first) as conf:
        pid = (first / "run" / "slurmctld.pid").read_text()
        assert slurm_cluster.start(first) == conf  # found running: nothing started again
        assert (first / "run" / "slurmctld.pid").read_text() == pid
        with slurm_cluster.local_slurm(second) as other:
            for folder in (first, second):
                nodes = subprocess.run(["sinfo", "-h", "-o", "%P %T"], capture_output=True,
                                       env=slurm_cluster.client_env(folder), text=True,
                                       timeout=60)
                assert nodes.stdout.split() == ["debug*", "idle"], nodes
            assert other != conf and slurm_cluster.is_running(second)
        assert not slurm_cluster.is_running(second) and slurm_cluster.is_running(first)
        # Other options: the folder's cluster is stopped and started again with them.
        assert slurm_cluster.start(first, fast_requeue=True) == conf
        assert (first / "run" / "slurmctld.pid").read_text() != pid
        assert "cred_expire=10" in conf.read_text() and slurm_cluster.is_running(first)
    assert not slurm_cluster.is_running(first)
