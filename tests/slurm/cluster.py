"""A throw-away single-node SLURM cluster on localhost, for tests.

Debian's ``slurm-wlm`` and ``munge`` packages provide the daemons; their system services
are not used (they do not auto-start in containers). Instead everything lives in one
temporary directory: a fresh munge key, ``slurm.conf``, state, spool, logs, pid files and
the munge socket. ``munged``, ``slurmctld`` and ``slurmd`` run in the foreground as
children of this process and are stopped by their PIDs. Clients (``sbatch``, ``squeue``,
``scontrol``, Snakemake's SLURM executor, ``srun`` inside the jobs) find the cluster
through ``SLURM_CONF``; see :attr:`LocalSlurmCluster.env`.

Settings that matter (Debian 12 ships Slurm 22.05):

* ``ProctrackType=proctrack/linuxproc``, ``TaskPlugin=task/none``: no cgroups needed;
* ``SelectType=select/cons_tres`` with ``CR_Core``: jobs get cores, several jobs share
  the node;
* no accounting database (``accounting_storage/none``): ``sacct`` has nothing to say, so
  Snakemake must read job states from ``squeue``; finished jobs stay visible to
  ``squeue`` for ``MinJobAge`` seconds, which must be at least 3x the executor's
  ``--slurm-init-seconds-before-status-checks`` (else the plugin falls back to sacct).

Use from Python::

    with LocalSlurmCluster.start_new() as cluster:
        subprocess.run(["sbatch", "--wrap", "hostname"], env=cluster.env)

or from a shell (the cluster lives until ``stop``)::

    python tests/slurm/cluster.py start /tmp/nplab-slurm     # prints: export SLURM_CONF=...
    python tests/slurm/cluster.py stop  /tmp/nplab-slurm

``ensure_installed()`` installs the packages with apt-get when they are missing (root
only); when that is impossible it raises :class:`SlurmUnavailable` with the reason.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "sinfo", "scancel", "srun")
SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
)
NODE_NAME = "nplab1"
PARTITION = "nplab"
# Seconds slurmctld keeps a finished job (squeue shows it that long). Must be >= 3x the
# executor's initial status-check wait; long, so a test can list every job of its run.
MIN_JOB_AGE = 7200
MARKER = "NPLAB_LOCAL_SLURM_DIR"  # set in every daemon's environment (cleanup by PID)


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be installed or started here; the message says why."""


SHIM_TAG = "# tests/slurm/cluster.py: talk to the test cluster"


def which(name: str) -> str | None:
    """The real executable (never one of the client shims written below)."""
    for d in SEARCH_PATH.split(os.pathsep):
        found = shutil.which(name, path=d) if d else None
        if found is None:
            continue
        try:
            with open(found, "rb") as fh:
                if SHIM_TAG.encode() in fh.read(200):
                    continue
        except OSError:
            continue
        return found
    return None


def missing_binaries() -> list[str]:
    return [b for b in DAEMONS + CLIENTS if which(b) is None]


def ensure_installed(install: bool = True, timeout: float = 900) -> None:
    """Make sure the SLURM and munge binaries exist, installing them with apt-get if
    allowed and possible; raise :class:`SlurmUnavailable` otherwise."""
    missing = missing_binaries()
    if not missing:
        return
    what = f"missing {', '.join(missing)} (Debian packages {' '.join(PACKAGES)})"
    if not install:
        raise SlurmUnavailable(what)
    if sys.platform != "linux" or which("apt-get") is None:
        raise SlurmUnavailable(f"{what}; no apt-get to install them")
    if os.geteuid() != 0:
        raise SlurmUnavailable(
            f"{what}; installing them needs root (apt-get install {' '.join(PACKAGES)})"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        try:
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SlurmUnavailable(f"{what}; `{' '.join(cmd)}` failed: {exc}") from exc
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise SlurmUnavailable(
                f"{what}; `{' '.join(cmd)}` exited {res.returncode}: " + " | ".join(tail)
            )
    missing = missing_binaries()
    if missing:
        raise SlurmUnavailable(f"still missing after apt-get install: {', '.join(missing)}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_hardware() -> tuple[str, int]:
    """(the CPU topology part of ``slurmd -C``, RealMemory in MB) of this machine."""
    cpus = os.cpu_count() or 1
    topo, mem = f"CPUs={cpus}", None
    try:
        out = subprocess.run(
            [which("slurmd") or "slurmd", "-C"], capture_output=True, text=True, timeout=30
        ).stdout
        first = out.splitlines()[0] if out else ""
        fields = dict(f.split("=", 1) for f in first.split() if "=" in f)
        keep = ["CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore"]
        if all(k in fields for k in keep):
            topo = " ".join(f"{k}={fields[k]}" for k in keep)
        if "RealMemory" in fields:
            mem = int(fields["RealMemory"])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        pass
    if mem is None:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    # A little below the total, so slurmd never finds "less memory than configured".
    return topo, max(500, int(mem * 0.95))


class LocalSlurmCluster:
    """munged + slurmctld + slurmd for one node, all state under ``root``."""

    def __init__(self, root: Path, partition: str = PARTITION, min_job_age: int = MIN_JOB_AGE):
        self.root = Path(root)
        self.partition = partition
        self.min_job_age = int(min_job_age)
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.slurmctld_log = self.root / "log" / "slurmctld.log"
        self.slurmd_log = self.root / "log" / "slurmd.log"
        self.munged_log = self.root / "log" / "munged.log"
        self.client_calls_log = self.root / "log" / "client-calls.log"
        self.procs: dict[str, subprocess.Popen] = {}
        self.pids_file = self.root / "pids.json"

    # -- construction ------------------------------------------------------------------
    @classmethod
    def start_new(cls, root: Path | None = None, timeout: float = 90, **kw) -> LocalSlurmCluster:
        """Create a directory (short: the munge socket path must stay < 108 bytes),
        write the configuration and start the daemons."""
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="nplab-slurm-"))
        cluster = cls(root, **kw)
        try:
            cluster.start(timeout=timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` plus what a client needs to talk to this cluster: ``SLURM_CONF``
        and ``PATH`` starting with :attr:`bin_dir` (client shims that pin ``SLURM_CONF``)."""
        env = dict(os.environ)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.bin_dir), SEARCH_PATH])
        for var in [
            v for v in env if v.startswith(("SLURM_JOB", "SBATCH_", "SRUN_", "SLURM_CLUSTERS"))
        ]:
            env.pop(var)  # not a job context; the plugin warns and strips these otherwise
        return env

    def _daemon_env(self) -> dict[str, str]:
        env = self.env
        env[MARKER] = str(self.root)
        return env

    def write_config(self) -> None:
        for sub in ("munge", "state", "spool", "log", "run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        for sub in ("munge", "state", "spool", "log", "run"):
            os.chmod(self.root / sub, 0o700 if sub == "munge" else 0o755)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        self.write_client_shims()
        topo, mem = _node_hardware()
        r = self.root
        self.conf.write_text(f"""\
# Written by tests/slurm/cluster.py: a one-node cluster on localhost.
ClusterName=nplabtest
SlurmctldHost={socket.gethostname().split(".")[0]}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={self.slurmctld_log}
SlurmdLogFile={self.slurmd_log}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge={self.min_job_age}
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName={NODE_NAME} NodeAddr=127.0.0.1 NodeHostname=localhost {topo} RealMemory={mem} State=UNKNOWN
PartitionName={self.partition} Nodes={NODE_NAME} Default=YES MaxTime=INFINITE State=UP
""")

    def write_client_shims(self) -> None:
        """``bin/<client>`` scripts that export this cluster's ``SLURM_CONF``, append the
        command line to :attr:`client_calls_log` and exec the real client. Needed because snakemake-executor-plugin-slurm-jobstep (0.6.1) removes
        every ``SLURM_*`` variable but the job's identity -- ``SLURM_CONF`` included --
        before it runs ``srun`` inside the job; on a real cluster srun then finds
        /etc/slurm/slurm.conf (or slurmd's configless cache), here it would find nothing."""
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        for name in CLIENTS + ("sacct", "sshare", "sacctmgr"):
            real = which(name)
            if real is None:
                continue
            shim = self.bin_dir / name
            shim.write_text(
                f"#!/bin/sh\n{SHIM_TAG}\n"
                f"SLURM_CONF='{self.conf}'\nexport SLURM_CONF\n"
                f"printf '%s\\n' \"{name} $*\" >> '{self.client_calls_log}'\n"
                f"exec '{real}' \"$@\"\n"
            )
            os.chmod(shim, 0o755)

    # -- daemons -----------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> None:
        out = open(self.root / "log" / f"{name}.stdout", "wb")
        self.procs[name] = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self._daemon_env(),
            cwd=str(self.root),
            start_new_session=True,
        )
        out.close()
        self.pids_file.write_text(json.dumps({k: p.pid for k, p in self.procs.items()}))

    def _check_alive(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise SlurmUnavailable(
                    f"{name} exited with status {p.returncode}:\n" + self.logs_tail()
                )

    def _wait(self, what: str, ok, timeout: float) -> None:
        t_end = time.monotonic() + timeout
        while True:
            self._check_alive()
            if ok():
                return
            if time.monotonic() > t_end:
                raise SlurmUnavailable(
                    f"timed out after {timeout:.0f} s waiting for {what}:\n" + self.logs_tail()
                )
            time.sleep(0.5)

    def client(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster."""
        return subprocess.run(
            [which(argv[0]) or argv[0], *argv[1:]],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, timeout: float = 90) -> None:
        ensure_installed(install=False)
        self.write_config()
        m = self.root / "munge"
        self._spawn(
            "munged",
            [
                which("munged"),
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={m / 'munge.key'}",
                f"--pid-file={m / 'munged.pid'}",
                f"--seed-file={m / 'munged.seed'}",
                f"--log-file={self.munged_log}",
                "--num-threads=2",
            ],
        )
        self._wait("the munge socket", self.munge_socket.exists, 20)
        self._spawn("slurmctld", [which("slurmctld"), "-D", "-c", "-f", str(self.conf)])
        self._wait("slurmctld", lambda: "UP" in self.client("scontrol", "ping").stdout, timeout)
        self._spawn("slurmd", [which("slurmd"), "-D", "-N", NODE_NAME, "-f", str(self.conf)])

        def node_idle() -> bool:
            res = self.client("sinfo", "-h", "-n", NODE_NAME, "-o", "%T")
            return res.returncode == 0 and res.stdout.strip().rstrip("*") in {"idle", "mixed"}

        self._wait(f"node {NODE_NAME} to become idle", node_idle, timeout)

    def client_calls(self) -> list[str]:
        """Every client command run through the shims so far (``"squeue --format=..."``)."""
        try:
            return self.client_calls_log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def squeue_all(self) -> str:
        """Every job slurmctld still remembers (finished ones for MinJobAge seconds)."""
        res = self.client("squeue", "-h", "-t", "all", "-o", "%i|%j|%T|%k")
        return res.stdout

    def logs_tail(self, n: int = 15) -> str:
        out = []
        for f in sorted((self.root / "log").glob("*")):
            try:
                lines = f.read_text(errors="replace").splitlines()[-n:]
            except OSError:
                continue
            if lines:
                out.append(f"--- {f.name}\n" + "\n".join(lines))
        return "\n".join(out)

    def stop(self, remove: bool = False) -> None:
        """Cancel jobs, stop the daemons by PID, then any slurmstepd they left behind."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self.client("scancel", "--user", str(os.getuid()), timeout=15)
        pids = {k: p.pid for k, p in self.procs.items()}
        if not pids and self.pids_file.exists():  # `stop` from another process
            pids = json.loads(self.pids_file.read_text())
        for name in ("slurmd", "slurmctld", "munged"):
            pid = pids.get(name)
            if pid is None:
                continue
            proc = self.procs.get(name)
            _terminate(pid, proc)
        for pid in _marked_pids(self.root):
            _terminate(pid, None)
        self.procs.clear()
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalSlurmCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _alive(pid: int, proc: subprocess.Popen | None) -> bool:
    if proc is not None:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is as good as gone
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _terminate(pid: int, proc: subprocess.Popen | None, grace: float = 10) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _alive(pid, proc):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        t_end = time.monotonic() + grace
        while time.monotonic() < t_end and _alive(pid, proc):
            time.sleep(0.1)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def _marked_pids(root: Path) -> list[int]:
    """PIDs whose environment carries this cluster's marker (e.g. orphaned slurmstepd)."""
    needle = f"{MARKER}={root}".encode() + b"\0"
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if needle in (d / "environ").read_bytes() + b"\0":
                found.append(int(d.name))
        except OSError:
            continue
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="install if needed, start, print the environment")
    s.add_argument("dir", type=Path, nargs="?", help="cluster directory (default: new temp dir)")
    s.add_argument("--no-install", action="store_true", help="never run apt-get")
    t = sub.add_parser("stop", help="stop the cluster started in DIR")
    t.add_argument("dir", type=Path)
    t.add_argument("--remove", action="store_true", help="also delete DIR")
    r = sub.add_parser("run", help="start a cluster, run CMD with SLURM_CONF set, stop")
    r.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)

    if args.cmd == "stop":
        LocalSlurmCluster(args.dir).stop(remove=args.remove)
        return 0
    try:
        ensure_installed(install=not getattr(args, "no_install", False))
        root = getattr(args, "dir", None)
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        cluster = LocalSlurmCluster.start_new(root)
    except SlurmUnavailable as exc:
        print(f"SLURM unavailable: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "start":
        # The daemons are in their own sessions: they outlive this process.
        print(f"export SLURM_CONF={cluster.conf}")
        print(f"# stop with: {sys.executable} {__file__} stop {cluster.root}", flush=True)
        return 0
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    cmd = cmd or ["sinfo"]
    try:
        return subprocess.run(cmd, env=cluster.env).returncode
    finally:
        cluster.stop(remove=True)


if __name__ == "__main__":
    sys.exit(main())
