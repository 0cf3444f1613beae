"""The contenders and one running session of a contender: miner stand-in + (optional) daemon.

A session starts the miner in <scratch>/miner, the daemon (ours or the prototype) in
<scratch>/daemon, and a FreezeWatcher on the miner; on exit it stops the daemon (SIGTERM: both
daemons thaw what they froze), checks that the miner is thawed (thaws it and reports otherwise),
stops the miner and reads its final hash count.
"""

import json
import os
import shutil
import time
from dataclasses import dataclass, field

from .cgroups import FreezeWatcher
from .procs import Proc

# The prototype's defaults (seed_auto_pause.py) and ours (README), for labels and arithmetic only:
# neither daemon is told these values in a "defaults" run.
PROTO_DEFAULT_POLL = 3.0
PROTO_DEFAULT_GRACE = 15.0
OURS_DEFAULT_POLL = 0.2
OURS_DEFAULT_GRACE = 15.0
OURS_DEFAULT_DEBOUNCE = 0.4


@dataclass(frozen=True)
class Contender:
    key: str
    daemon: str = None          # None, "ours" or "proto"
    nice: int = None            # miner nice; None: no miner
    poll: float = None          # None: the daemon's own default
    label: str = ""

    @property
    def effective_poll(self):
        if self.poll is not None:
            return self.poll
        return {"ours": OURS_DEFAULT_POLL, "proto": PROTO_DEFAULT_POLL}.get(self.daemon, 0.0)


def contender(key):
    """Contenders by key: none | always-nN | ours-nN | proto-nN | ours-p1-nN | proto-p1-nN."""
    if key == "none":
        return Contender("none", label="no miner")
    parts = key.split("-")
    nice = int(parts[-1][1:])
    if parts[0] == "always":
        return Contender(key, nice=nice, label="miner always on, nice %d" % nice)
    poll = None
    if len(parts) == 3:
        poll = float(parts[1][1:])
    daemon = parts[0]
    name = "xmrig-auto-pause" if daemon == "ours" else "prototype"
    how = "defaults" if poll is None else "poll %g s" % poll
    return Contender(key, daemon=daemon, nice=nice, poll=poll, label="%s (%s), miner nice %d" % (name, how, nice))


@dataclass
class Bench:
    """Paths and scratch cgroups shared by every session."""
    daemon_bin: str
    tools: str
    prototype: str            # path of seed_auto_pause.py, or None (prototype contenders skipped)
    python: str
    root: object              # Cgroup: <mount>/xap-bench
    workdir: str
    nproc: int
    log: object
    miner_threads: int = 0
    watched_cores: float = 0.05   # per-service threshold of the "game" cgroup, in cores
    sessions: int = 0
    problems: list = field(default_factory=list)

    def __post_init__(self):
        self.miner_cg = self.root.child("miner").create()
        self.fg_cg = self.root.child("fg").create()
        self.game_cg = self.root.child("game").create()
        self.daemon_cg = self.root.child("daemon").create()
        self.miner_threads = self.miner_threads or self.nproc

    def tool(self, name):
        return os.path.join(self.tools, name)

    def pct_of_total(self, cores):
        return cores * 100.0 / self.nproc

    def new_path(self, name):
        self.sessions += 1
        return os.path.join(self.workdir, "%03d-%s" % (self.sessions, name))


def _proto_control_group(cg):
    """The prototype reads f'/sys/fs/cgroup{ControlGroup}/cpu.stat': on a hybrid host the v2 mount is
    /sys/fs/cgroup/unified, so ControlGroup must carry the '/unified' prefix for it to resolve."""
    base = "/sys/fs/cgroup"
    if cg.path == base or cg.path.startswith(base + "/"):
        return cg.path[len(base):] or "/"
    return cg.config_path  # not under /sys/fs/cgroup: the prototype cannot read it (reported)


class Session:
    def __init__(self, bench, c, *, watched=None, grace=None, tag="", log_level="info", state_root=None):
        """watched: list of Cgroups with the per-service threshold (default: [bench.game_cg]).
        grace: None for the daemon's default, else seconds (ours: also grace_period_max, i.e.
        no back-off, so that reaction-to-thaw minus the grace is the daemon's own delay)."""
        self.bench, self.c = bench, c
        self.watched = watched if watched is not None else [bench.game_cg]
        self.grace = grace
        self.tag = tag or c.key
        self.log_level = log_level
        self.state_root = state_root  # where the daemon's state directory goes (default: workdir)
        self.miner = self.daemon = self.watcher = None
        self.final_total = None
        self.problems = []

    # --- start ----------------------------------------------------------------------------
    def __enter__(self):
        b = self.bench
        self.base = b.new_path(self.tag)
        try:
            if self.c.nice is not None:
                self._start_miner()
            self.watcher = FreezeWatcher(b.miner_cg)
            if self.c.daemon == "ours":
                self._start_ours()
            elif self.c.daemon == "proto":
                self._start_proto()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_miner(self):
        b = self.bench
        self.work_file = self.base + ".miner-work"
        self.miner = Proc("miner", [b.tool("xap-miner-standin"), "--threads", b.miner_threads,
                                    "--nice", self.c.nice, "--report-interval", 1,
                                    "--work-file", self.work_file],
                          b.miner_cg, self.base + ".miner.log", role="miner")
        # First report (and the work file) after one second: the miner is up and hashing.
        deadline = time.monotonic() + 5
        while not os.path.exists(self.work_file):
            if not self.miner.alive() or time.monotonic() > deadline:
                raise RuntimeError("miner stand-in did not start: " + self.miner.output()[-500:])
            time.sleep(0.05)

    def _watched_percent(self):
        return round(self.bench.pct_of_total(self.bench.watched_cores), 4)

    def _start_ours(self):
        b = self.bench
        pct = self._watched_percent()
        cfg = {"miner": b.miner_cg.config_path,
               "watched": {cg.config_path: pct for cg in self.watched},
               "log_level": self.log_level}
        if self.c.poll is not None:
            cfg["poll_interval"] = self.c.poll
        if self.grace is not None:
            cfg["grace_period"] = self.grace
            cfg["grace_period_max"] = self.grace
        self.config = cfg
        path = self.base + ".config.json"
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        state = self.base + ".state"
        if self.state_root:
            state = os.path.join(self.state_root, os.path.basename(state))
        os.makedirs(state, exist_ok=True)
        self.state_dir = state
        self.daemon = Proc("xmrig-auto-pause", [b.daemon_bin, "--config", path, "--state-dir", state],
                           b.daemon_cg, self.base + ".daemon.log", role="daemon")
        self._await_log("watching with", 10)
        # Baselines: the first window ends one poll after start; give it a couple of windows.
        time.sleep(3 * self.c.effective_poll + OURS_DEFAULT_DEBOUNCE)
        self._check_daemon_alive()

    def _start_proto(self):
        b = self.bench
        if not b.prototype:
            raise RuntimeError("no prototype script (--prototype)")
        table = self.base + ".systemctl-table"
        lines = []
        if self.miner is not None:
            lines += ["xmrig.service ActiveState active",
                      "xmrig.service MainPID %d" % self.miner.pid,
                      "xmrig.service ControlGroup %s" % _proto_control_group(b.miner_cg)]
        names = []
        for i, cg in enumerate(self.watched):
            name = "game.service" if cg.path == b.game_cg.path else "watched%03d.service" % i
            names.append(name)
            lines += ["%s ActiveState active" % name, "%s ControlGroup %s" % (name, _proto_control_group(cg))]
        with open(table, "w") as f:
            f.write("\n".join(lines) + "\n")
        pct = self._watched_percent()
        env = dict(os.environ)
        env.update({
            "PATH": os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stub-bin")
                    + ":" + env.get("PATH", "/usr/bin:/bin"),
            "XAP_BENCH_SYSTEMCTL_TABLE": table,
            "XMRIG_CGROUP_FREEZE": b.miner_cg.file("cgroup.freeze"),
            "STATE_DIR": self.base + ".state",
            "WATCHED_SERVICES": ",".join("%s:%g" % (n, pct) for n in names),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        for k in ("POLL_INTERVAL", "GRACE_PERIOD", "CPU_STOP_THRESHOLD", "CPU_RESUME_THRESHOLD"):
            env.pop(k, None)
        if self.c.poll is not None:
            env["POLL_INTERVAL"] = "%d" % self.c.poll  # the prototype parses an int
        if self.grace is not None:
            env["GRACE_PERIOD"] = "%g" % self.grace
        os.makedirs(env["STATE_DIR"], exist_ok=True)
        self.config = {k: env[k] for k in ("WATCHED_SERVICES", "XMRIG_CGROUP_FREEZE", "STATE_DIR")
                       if k in env}
        self.config.update({k: env[k] for k in ("POLL_INTERVAL", "GRACE_PERIOD") if k in env})
        self.daemon = Proc("prototype", [b.python, "-u", b.prototype], b.daemon_cg,
                           self.base + ".daemon.log", env=env, role="daemon")
        self._await_log("Starting:", 10)
        # The prototype's first sample only seeds baselines, then sleeps one poll.
        time.sleep(self.c.effective_poll + 0.5)
        self._check_daemon_alive()
        if "has no cgroup" in self.daemon.output():
            self.problems.append("prototype could not resolve a watched cgroup (see %s)" % self.daemon.out_path)

    def _await_log(self, text, timeout):
        deadline = time.monotonic() + timeout
        while text not in self.daemon.output():
            self._check_daemon_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not log %r within %d s: %s" % (self.daemon.name, text, timeout,
                                                                        self.daemon.output()[-800:]))
            time.sleep(0.02)

    def _check_daemon_alive(self):
        if self.daemon is not None and not self.daemon.alive():
            raise RuntimeError("%s exited early (status %s): %s" % (self.daemon.name, self.daemon.popen.returncode,
                                                                   self.daemon.output()[-800:]))

    # --- measurements -----------------------------------------------------------------------
    def miner_work(self):
        try:
            with open(self.work_file) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError, AttributeError):
            return 0

    def sync_miner_report(self, timeout=3.0):
        """Wait for the miner's next report so the hash count read is exact at the returned time."""
        if self.miner is None:
            return time.monotonic(), 0
        try:
            m0 = os.stat(self.work_file).st_mtime_ns
        except OSError:
            m0 = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if os.stat(self.work_file).st_mtime_ns != m0:
                    return time.monotonic(), self.miner_work()
            except OSError:
                pass
            time.sleep(0.005)
        return time.monotonic(), self.miner_work()

    def daemon_cpu(self):
        """CPU of the daemon so far: its cgroup's usage_usec (µs-precise, includes children such as
        the prototype's systemctl calls) and /proc/PID/stat utime+stime (10 ms ticks)."""
        if self.daemon is None:
            return None
        stat = self.daemon.stat_cpu_s()
        return {"t": time.monotonic(),
                "cgroup_s": self.bench.daemon_cg.usage_usec() / 1e6,
                "stat_s": stat[0] if stat else None,
                "children_stat_s": stat[1] if stat else None,
                "own_precise_s": self.daemon.schedstat_s(),
                "vol_switches": self.daemon.voluntary_switches()}

    def daemon_hwm_kib(self):
        return self.daemon.vm_hwm_kib() if self.daemon is not None else None

    def daemon_mem(self):
        """Peak and current resident memory of the daemon process (kB), from /proc/PID/status."""
        if self.daemon is None:
            return None
        st = self.daemon.status()
        return {k: int(st[k].split()[0]) for k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem") if k in st}

    # --- stop ---------------------------------------------------------------------------------
    def __exit__(self, exc_type, exc, tb):
        b = self.bench
        if self.daemon is not None:
            rc = self.daemon.stop()
            self.daemon_exit = rc
            if rc not in (0, None):
                self.problems.append("%s exited with status %s" % (self.daemon.name, rc))
        if self.miner is not None:
            if b.miner_cg.frozen():
                # A daemon must thaw on SIGTERM; if it did not, say so and thaw ourselves.
                time.sleep(0.1)
                if b.miner_cg.frozen():
                    self.problems.append("miner still frozen after the daemon stopped; thawed by the bench")
                    b.miner_cg.set_freeze(False)
            self.miner.stop()
            self.final_total = self.miner_work()
        if self.watcher is not None:
            self.watcher.close()
        if self.state_root and getattr(self, "state_dir", None):
            shutil.rmtree(self.state_dir, ignore_errors=True)
        for p in self.problems:
            b.log("  problem (%s): %s" % (self.tag, p))
        b.problems += ["%s: %s" % (self.tag, p) for p in self.problems]
        return False
