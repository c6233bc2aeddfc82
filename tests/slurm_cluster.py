"""The project's own one-node Slurm cluster, for the tests that need a real one.

Everything the cluster is lives in one state folder (a pytest temporary folder in the tests):
its configuration, its logs and the state of each daemon. It starts

- its own ``munged``, with a fresh key and its own socket (nothing in ``/etc/munge`` is read or
  written, and a munged the machine already runs is left alone);
- with ``accounting=True``, its own MariaDB (a database folder made here, listening on
  127.0.0.1 only) and ``slurmdbd``, so that ``sacct`` answers: submitit asks it whether a job
  was cancelled or failed, and without it waits forever on a dead job;
- ``slurmctld`` and ``slurmd`` for one node, ``localhost``, in one partition, ``debug``.

Each daemon listens on ports picked free at start, so the cluster runs beside any other Slurm
on the machine (another state folder's, or one started by another script on the default ports)
and neither sees the other. Clients (``sbatch``, ``squeue``, ``scontrol``, ``sacct``, submitit)
find it through ``SLURM_CONF=<state>/slurm.conf``.

Starting needs root (the daemons run as root and run the jobs; ``apt-get`` installs slurm-wlm
and munge, and for accounting slurmdbd and mariadb-server, when they are missing). Where it
cannot start, a test using it is skipped with the reason (``pytest -ra`` lists it), except under
CI (``CI=true``), where that is a failure. Starting is idempotent: a second start on the same
folder finds the running cluster and reuses it (or restarts it with other options). ``stop``
cancels the cluster's jobs and stops its daemons by their PID files, checking each PID is still
the daemon it names.

By hand, from the repository root (as root; docs/testing.md)::

    python -m tests.slurm_cluster start /tmp/my-slurm [--accounting] [--fast-requeue]
    export SLURM_CONF=/tmp/my-slurm/slurm.conf      # the line start prints
    python -m tests.slurm_cluster stop /tmp/my-slurm
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Where the Debian/Ubuntu packages put the daemons (not always on a user's PATH).
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
#: The programs each kind of cluster needs, and the apt packages that bring them.
BASE_PROGRAMS = {"slurmctld": "slurmctld", "slurmd": "slurmd", "sbatch": "slurm-client",
                 "munged": "munge"}
ACCOUNTING_PROGRAMS = {"slurmdbd": "slurmdbd", "mariadbd": "mariadb-server",
                       "mariadb-install-db": "mariadb-server", "mariadb": "mariadb-client"}
#: The daemons in the order ``stop`` ends them (clients of a daemon before the daemon).
DAEMONS = ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged")
#: A unix socket's path must fit in 108 bytes (sun_path).
MAX_SOCKET_PATH = 100
#: The node's memory as Slurm is told it (MB); jobs that ask for no memory get all of it.
NODE_MEMORY_MB = 2000


class Unavailable(RuntimeError):
    """The cluster cannot start here; the message says why."""


def unavailable(reason: str) -> None:
    """Skip the test (fail it under CI, which must have the cluster)."""
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs the local Slurm cluster: {reason}")
    pytest.skip(f"local Slurm cluster: {reason}")


@contextmanager
def local_slurm(state: Path, *, accounting: bool = False, fast_requeue: bool = False
                ) -> Iterator[Path]:
    """A running cluster with its state in ``state`` for the ``with`` block; yields its
    ``slurm.conf`` (the clients' ``SLURM_CONF``) and stops it afterwards.

    ``accounting``: ``sacct`` answers (submitit needs it). ``fast_requeue``: job credentials
    expire after 10 s instead of 120 s, so a requeued job may start again after ~20 s rather
    than ~2 min.
    """
    try:
        conf = start(state, accounting=accounting, fast_requeue=fast_requeue)
    except Unavailable as why:
        stop(state)
        unavailable(str(why))
    try:
        yield conf
    finally:
        stop(state)


# ---------------------------------------------------------------------------------- starting


def start(state: Path, *, accounting: bool = False, fast_requeue: bool = False) -> Path:
    """Start the cluster of ``state`` (created if needed) unless it already runs with these
    options; return its ``slurm.conf``. Raises :class:`Unavailable` with the reason."""
    state = Path(state).resolve()
    options = {"accounting": accounting, "fast_requeue": fast_requeue}
    if is_running(state):
        if _read_json(state / "harness.json").get("options") == options:
            return state / "slurm.conf"
    _check_can_start(accounting)
    # Whatever still runs of an earlier cluster here (other options, or a start that failed
    # half-way) ends before its files go.
    stop(state)
    _fresh_folders(state)
    names = ("ctld", "slurmd", "dbd", "db")
    config = {"options": options,
              "ports": dict(zip(names, _free_ports(len(names)), strict=True)),
              "munge_socket": str(state / "munge" / "munge.sock")}
    for path in (config["munge_socket"], str(state / "run" / "mysqld.sock")):
        if len(path.encode()) > MAX_SOCKET_PATH:
            raise Unavailable(f"state folder too deep for a unix socket: {path}")
    (state / "harness.json").write_text(json.dumps(config, indent=1))
    _start_munge(state)
    _write_slurm_conf(state, config)
    if accounting:
        _start_database(state, config)
    env = client_env(state)
    _spawn([_program("slurmctld"), "-f", str(state / "slurm.conf")], state, env)
    # The machine's hostname is not the node's name, hence -N.
    _spawn([_program("slurmd"), "-f", str(state / "slurm.conf"), "-N", "localhost"], state, env)
    _wait(lambda: (_quiet(["sinfo", "-h", "-N", "-o", "%T"], env) or "").strip() == "idle",
          60, state, "the node to be idle")
    return state / "slurm.conf"


def client_env(state: Path) -> dict[str, str]:
    """The environment of a client command (or daemon) of this cluster."""
    return {**os.environ, "SLURM_CONF": str(Path(state) / "slurm.conf"),
            "PATH": _search_path()}


def _search_path() -> str:
    """``PATH`` with the daemons' folders added."""
    path = os.environ.get("PATH", "")
    return os.pathsep.join([path, *(d for d in SBIN if d not in path.split(os.pathsep))])


def _program(name: str) -> str:
    found = shutil.which(name, path=_search_path())
    if not found:
        raise Unavailable(f"{name} not found")
    return found


def _check_can_start(accounting: bool) -> None:
    """Raise :class:`Unavailable` unless this process can run the daemons; install the
    packages with apt-get when they are missing."""
    if os.geteuid() != 0:
        raise Unavailable("needs root (its daemons run as root and run the jobs); "
                          "run the Slurm tests as root (docs/testing.md)")
    programs = {**BASE_PROGRAMS, **(ACCOUNTING_PROGRAMS if accounting else {})}
    path = _search_path()
    missing = sorted({package for program, package in programs.items()
                      if not shutil.which(program, path=path)})
    if not missing:
        return
    apt = shutil.which("apt-get", path=path)
    if not apt:
        raise Unavailable(f"packages {' '.join(missing)} are missing and there is no apt-get "
                          "to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", *missing]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(command)} failed: {done.stderr[-1500:]}")


def _fresh_folders(state: Path) -> None:
    """An empty state for each daemon (a new cluster: job ids restart at 1, and the accounting
    database is new, so no earlier job's record can be taken for a new one's). Logs are kept;
    the daemons append to them."""
    for name in ("ctld", "spool", "run", "db", "munge"):
        shutil.rmtree(state / name, ignore_errors=True)
    for name in ("ctld", "spool", "run", "db", "munge", "log"):
        (state / name).mkdir(parents=True, exist_ok=True)
    # munged wants its socket folder readable by all (it is root's own, below).
    (state / "munge").chmod(0o755)


def _free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free now, below the kernel's ephemeral range."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 32000)
        if port in ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
        ports.append(port)
    return ports


def _start_munge(state: Path) -> None:
    """This cluster's own munged: a new key, its socket in ``state/munge``."""
    folder = state / "munge"
    key = folder / "munge.key"
    key.touch(mode=0o600)
    key.write_bytes(secrets.token_bytes(1024))
    sock = folder / "munge.sock"
    # --force: munged refuses a socket below a folder not every user may enter (a private
    # temporary folder); only root, which runs the daemons and the jobs, talks to it here.
    _spawn([_program("munged"), "--force", f"--socket={sock}", f"--key-file={key}",
            f"--pid-file={folder / 'munged.pid'}", f"--log-file={state / 'log' / 'munged.log'}",
            f"--seed-file={folder / 'munged.seed'}"], state, os.environ)
    munge, unmunge = _program("munge"), _program("unmunge")

    def answers() -> bool:
        credential = subprocess.run([munge, "-n", "-S", str(sock)], capture_output=True,
                                    timeout=10)
        return credential.returncode == 0 and subprocess.run(
            [unmunge, "-S", str(sock)], input=credential.stdout, capture_output=True,
            timeout=10).returncode == 0

    _wait(answers, 20, state, "munged to answer")


def _write_slurm_conf(state: Path, config: dict) -> None:
    ports, cpus = config["ports"], os.cpu_count() or 1
    auth = f"socket={config['munge_socket']}"
    if config["options"]["fast_requeue"]:
        # A requeued job may start again cred_expire + 1 s after it stopped (121 s by default).
        auth += ",cred_expire=10"
    lines = {
        "ClusterName": "jlonevae",
        "SlurmctldHost": "localhost",
        "SlurmctldPort": ports["ctld"],
        "SlurmdPort": ports["slurmd"],
        # Root runs the daemons and the jobs; munge (this cluster's socket) signs the messages.
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "AuthInfo": auth,
        "StateSaveLocation": state / "ctld",
        "SlurmdSpoolDir": state / "spool",
        "SlurmctldPidFile": state / "run" / "slurmctld.pid",
        "SlurmdPidFile": state / "run" / "slurmd.pid",
        "SlurmctldLogFile": state / "log" / "slurmctld.log",
        "SlurmdLogFile": state / "log" / "slurmd.log",
        # No cgroups (containers rarely allow them): processes tracked by their parent ids.
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "MpiDefault": "none",
        "MailProg": "/bin/true",
        # Schedule at once on submission and at each job's end.
        "SchedulerType": "sched/backfill",
        "SchedulerParameters": "batch_sched_delay=0,sched_min_interval=0",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core",
        # SIGKILL 5 s after the SIGTERM that ends (or requeues) a job.
        "KillWait": 5,
        # The node comes back by itself after a restart of slurmd.
        "ReturnToService": 2,
        "JobAcctGatherType": "jobacct_gather/none",
    }
    if config["options"]["accounting"]:
        lines.update({"AccountingStorageType": "accounting_storage/slurmdbd",
                      "AccountingStorageHost": "localhost",
                      "AccountingStoragePort": ports["dbd"],
                      # Which munged signs the messages to slurmdbd (AuthInfo's socket is not
                      # used for those): this cluster's.
                      "AccountingStoragePass": config["munge_socket"]})
    else:
        lines["AccountingStorageType"] = "accounting_storage/none"
    text = "".join(f"{key}={value}\n" for key, value in lines.items())
    text += (f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} Sockets=1 "
             f"CoresPerSocket={cpus} ThreadsPerCore=1 RealMemory={NODE_MEMORY_MB} "
             "State=UNKNOWN\n"
             "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n")
    (state / "slurm.conf").write_text(text)


def _start_database(state: Path, config: dict) -> None:
    """MariaDB in ``state/db`` (root's own, 127.0.0.1 only) and slurmdbd on top of it."""
    db, run, log = state / "db", state / "run", state / "log"
    sock = run / "mysqld.sock"
    # --no-defaults: nothing from /etc/mysql (its socket, its data folder) applies. Small redo
    # log and buffer pool: a few MB of database on disk instead of ~100.
    small = ["--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M"]
    made = subprocess.run([_program("mariadb-install-db"), "--no-defaults", "--user=root",
                           f"--datadir={db}", "--auth-root-authentication-method=socket",
                           "--skip-test-db", *small], capture_output=True, text=True,
                          timeout=300)
    if made.returncode != 0:
        raise Unavailable(f"mariadb-install-db failed: {made.stdout[-1000:]}"
                          f"{made.stderr[-1000:]}")
    # mariadbd stays in the foreground: start it in a session of its own, detached.
    with open(log / "mariadb.log", "ab") as out:
        subprocess.Popen([_program("mariadbd"), "--no-defaults", "--user=root",
                          f"--datadir={db}", f"--socket={sock}",
                          f"--pid-file={run / 'mariadbd.pid'}", "--bind-address=127.0.0.1",
                          f"--port={config['ports']['db']}", *small],
                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                         start_new_session=True)
    mariadb = [_program("mariadb"), "--no-defaults", f"--socket={sock}"]
    _wait(lambda: _quiet([*mariadb, "-e", "select 1"], os.environ) is not None, 60, state,
          "MariaDB to answer")
    password = secrets.token_hex(12)
    sql = (f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{password}'; "
           "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';")
    subprocess.run([*mariadb, "-e", sql], check=True, capture_output=True, timeout=60)
    dbd_conf = state / "slurmdbd.conf"
    dbd_conf.touch(mode=0o600)  # slurmdbd refuses a configuration others may read
    dbd_conf.write_text(
        "AuthType=auth/munge\n"
        f"AuthInfo=socket={config['munge_socket']}\n"
        "DbdHost=localhost\n"
        f"DbdPort={config['ports']['dbd']}\n"
        "SlurmUser=root\n"
        f"PidFile={run / 'slurmdbd.pid'}\n"
        f"LogFile={log / 'slurmdbd.log'}\n"
        "StorageType=accounting_storage/mysql\n"
        "StorageHost=127.0.0.1\n"
        f"StoragePort={config['ports']['db']}\n"
        "StorageUser=slurm\n"
        f"StoragePass={password}\n"
        "StorageLoc=slurm_acct_db\n")
    env = client_env(state)  # slurmdbd reads the slurmdbd.conf beside SLURM_CONF
    _spawn([_program("slurmdbd")], state, env)
    _wait(lambda: _quiet(["sacctmgr", "-n", "list", "cluster"], env) is not None, 60, state,
          "slurmdbd to answer")
    subprocess.run(["sacctmgr", "-i", "add", "cluster", "jlonevae"], env=env,
                   capture_output=True, timeout=60)


def _spawn(command: list[str], state: Path, env: dict[str, str]) -> None:
    """Run a daemon that forks itself into the background; raise if it fails to."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise Unavailable(f"{Path(command[0]).name} exited {done.returncode}: "
                          f"{done.stderr[-1000:]}\n{_log_tails(state)}")


def _quiet(command: list[str], env: dict[str, str]) -> str | None:
    """The output of ``command``, or None where it fails."""
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _wait(condition, timeout: float, state: Path, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise Unavailable(f"timed out after {timeout} s waiting for {what}\n"
                              f"{_log_tails(state)}")
        time.sleep(0.2)


def _log_tails(state: Path) -> str:
    return "\n".join(f"--- {log.name}:\n" + "\n".join(log.read_text(errors="replace")
                                                       .splitlines()[-8:])
                     for log in sorted((state / "log").glob("*.log")))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# ------------------------------------------------------------------------ finding, stopping


def _pid_files(state: Path) -> dict[str, Path]:
    run = state / "run"
    return {"slurmd": run / "slurmd.pid", "slurmctld": run / "slurmctld.pid",
            "slurmdbd": run / "slurmdbd.pid", "mariadbd": run / "mariadbd.pid",
            "munged": state / "munge" / "munged.pid"}


def _daemon_pid(pid_file: Path, name: str) -> int | None:
    """The PID in ``pid_file`` if that process is alive and is ``name`` (a PID reused by
    another program since is not ours to signal)."""
    try:
        pid = int(pid_file.read_text().split()[0])
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        # After "comm)": the state; Z, a zombie (no init reaps it in some containers), has
        # ended.
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return None
    except (OSError, ValueError, IndexError):
        return None
    # /proc/PID/comm holds at most 15 characters of the program's name.
    return pid if name.startswith(comm) or comm.startswith(name[:15]) else None


def is_running(state: Path) -> bool:
    """Whether this folder's cluster runs and its controller answers."""
    state = Path(state).resolve()
    files = _pid_files(state)
    needed = ["munged", "slurmctld", "slurmd"]
    if _read_json(state / "harness.json").get("options", {}).get("accounting"):
        needed += ["mariadbd", "slurmdbd"]
    if not all(_daemon_pid(files[name], name) for name in needed):
        return False
    return _quiet(["scontrol", "ping"], client_env(state)) is not None


def stop(state: Path) -> None:
    """Cancel this folder's jobs and stop its daemons (those that run); safe to repeat."""
    state = Path(state).resolve()
    env = client_env(state)
    files = _pid_files(state)
    if _daemon_pid(files["slurmctld"], "slurmctld"):
        jobs = (_quiet(["squeue", "-h", "-o", "%A"], env) or "").split()
        if jobs:
            _quiet(["scancel", *jobs], env)
            deadline = time.monotonic() + 20
            while (_quiet(["squeue", "-h", "-o", "%A"], env) or "").strip() \
                    and time.monotonic() < deadline:
                time.sleep(0.5)
    for name in DAEMONS:
        pid = _daemon_pid(files[name], name)
        if pid is None:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _daemon_pid(files[name], name) == pid and time.monotonic() < deadline:
            time.sleep(0.1)
        if _daemon_pid(files[name], name) == pid:
            os.kill(pid, signal.SIGKILL)
        files[name].unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.slurm_cluster",
                                     description="Start or stop the tests' one-node Slurm "
                                                 "cluster (as root; docs/testing.md).")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("state", type=Path, help="the cluster's folder (created by start)")
    parser.add_argument("--accounting", action="store_true",
                        help="MariaDB and slurmdbd too, so that sacct answers")
    parser.add_argument("--fast-requeue", action="store_true",
                        help="job credentials expire after 10 s (a requeued job restarts "
                             "after ~20 s, not ~2 min)")
    args = parser.parse_args(argv)
    if args.action == "stop":
        stop(args.state)
        return 0
    if args.action == "status":
        running = is_running(args.state)
        print("running" if running else "not running")
        return 0 if running else 1
    try:
        conf = start(args.state, accounting=args.accounting, fast_requeue=args.fast_requeue)
    except Unavailable as why:
        stop(args.state)
        print(f"cannot start the cluster: {why}", file=sys.stderr)
        return 1
    print(f"export SLURM_CONF={conf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
