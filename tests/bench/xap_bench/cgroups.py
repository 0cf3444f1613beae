"""Scratch cgroups under the cgroup v2 mount, and a watcher for the miner's frozen state.

Everything the benchmark creates lives under one directory, <v2 mount>/xap-bench, so that one
bottom-up walk (thaw, kill, rmdir) removes it on every exit path and no frozen cgroup is left.
"""

import os
import select
import signal
import threading
import time

SCRATCH_NAME = "xap-bench"


def _unescape_mountinfo(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def find_v2_mount(mountinfo="/proc/self/mountinfo"):
    """The cgroup v2 mount point: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid).

    A mountinfo line: '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw'.
    """
    with open(mountinfo) as f:
        for line in f:
            left, sep, right = line.partition(" - ")
            if not sep:
                continue
            if right.split()[0] == "cgroup2":
                fields = left.split()
                if fields[3] != "/":
                    continue  # a bind mount of a subtree: not the hierarchy's root
                return _unescape_mountinfo(fields[4])
    raise RuntimeError("no cgroup2 mount in " + mountinfo)


def read_kv(path):
    """'key value' lines (cpu.stat, cgroup.events) -> dict of ints; {} if the file is gone."""
    try:
        with open(path) as f:
            text = f.read()
    except (FileNotFoundError, OSError):
        return {}
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        try:
            out[k] = int(v)
        except ValueError:
            pass
    return out


class Cgroup:
    def __init__(self, mount, rel):
        self.mount = mount
        self.rel = rel.strip("/")
        self.path = os.path.join(mount, self.rel)

    def __repr__(self):
        return "Cgroup(/" + self.rel + ")"

    @property
    def config_path(self):
        """The path as xmrig-auto-pause's config wants it: relative to the v2 mount, leading '/'."""
        return "/" + self.rel

    def file(self, name):
        return os.path.join(self.path, name)

    def create(self):
        os.makedirs(self.path, exist_ok=True)
        return self

    def child(self, name):
        return Cgroup(self.mount, self.rel + "/" + name)

    def usage_usec(self):
        """Cumulative CPU of everything that ran in this cgroup (µs); always present in cpu.stat."""
        return read_kv(self.file("cpu.stat")).get("usage_usec", 0)

    def frozen(self):
        return read_kv(self.file("cgroup.events")).get("frozen", 0) == 1

    def procs(self):
        try:
            with open(self.file("cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except (FileNotFoundError, OSError):
            return []

    def set_freeze(self, value):
        with open(self.file("cgroup.freeze"), "w") as f:
            f.write("1" if value else "0")


def _subtree_bottom_up(path):
    for root, dirs, _files in os.walk(path, topdown=False):
        yield root


def destroy_tree(path, log=lambda msg: None):
    """Thaw, kill and rmdir every cgroup under (and including) path. Never leaves one frozen.

    Returns a list of problems (empty when the whole tree is gone)."""
    problems = []
    if not os.path.isdir(path):
        return problems
    dirs = list(_subtree_bottom_up(path))
    # Thaw top-down first: a frozen ancestor keeps descendants frozen, and frozen tasks cannot
    # act on SIGKILL until thawed (cgroup.kill handles that itself, plain kill(2) may not).
    for d in reversed(dirs):
        try:
            with open(os.path.join(d, "cgroup.freeze"), "w") as f:
                f.write("0")
        except OSError as e:
            problems.append("thaw %s: %s" % (d, e))
    for d in dirs:
        kill_file = os.path.join(d, "cgroup.kill")
        if os.path.exists(kill_file):
            try:
                with open(kill_file, "w") as f:
                    f.write("1")
            except OSError as e:
                problems.append("cgroup.kill %s: %s" % (d, e))
        else:
            for pid in Cgroup("/", d).procs():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    for d in dirs:
        deadline = time.monotonic() + 5
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    problems.append("rmdir %s: %s" % (d, e))
                    break
                time.sleep(0.02)
    for p in problems:
        log("cleanup: " + p)
    return problems


class FreezeWatcher:
    """Records every change of 'frozen' in a cgroup's cgroup.events with a CLOCK_MONOTONIC stamp.

    The kernel notifies cgroup.events changes through poll(POLLPRI) (rate-limited to one per
    10 ms); a 50 ms timeout re-reads anyway, so a stamp is at most ~10 ms late.
    """

    def __init__(self, cgroup):
        self.cgroup = cgroup
        self.events = []  # (monotonic time, frozen 0/1)
        self._cond = threading.Condition()
        self._stop = False
        self._fd = os.open(cgroup.file("cgroup.events"), os.O_RDONLY | os.O_CLOEXEC)
        self._state = self._read()
        self.events.append((time.monotonic(), self._state))
        self._thread = threading.Thread(target=self._run, name="freeze-watcher", daemon=True)
        self._thread.start()

    def _read(self):
        try:
            data = os.pread(self._fd, 4096, 0).decode()
        except OSError:
            return self._state if hasattr(self, "_state") else 0
        for line in data.splitlines():
            if line.startswith("frozen "):
                return int(line.split()[1])
        return 0

    def _run(self):
        poller = select.poll()
        poller.register(self._fd, select.POLLPRI | select.POLLERR)
        while not self._stop:
            poller.poll(50)
            t = time.monotonic()
            state = self._read()
            if state != self._state:
                with self._cond:
                    self._state = state
                    self.events.append((t, state))
                    self._cond.notify_all()

    @property
    def state(self):
        return self._state

    def wait_for(self, state, after, timeout):
        """Time of the first change to `state` at or after `after`; None on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, s in self.events:
                    if t >= after and s == state:
                        return t
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.1))

    def wait_state(self, state, timeout):
        """Wait until the current state is `state`; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._state != state:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))
            return True

    def transitions(self, start, end):
        """(freezes, thaws, [(t - start, state)]) for changes within [start, end]."""
        with self._cond:
            inside = [(t, s) for t, s in self.events[1:] if start <= t <= end]
        freezes = sum(1 for _, s in inside if s == 1)
        thaws = sum(1 for _, s in inside if s == 0)
        return freezes, thaws, [(round(t - start, 3), s) for t, s in inside]

    def frozen_seconds(self, start, end):
        """How long the cgroup was frozen within [start, end]."""
        with self._cond:
            events = list(self.events)
        total, state, since = 0.0, 0, start
        for t, s in events:
            if t <= start:
                state = s
                continue
            if t > end:
                break
            if state == 1:
                total += t - since
            state, since = s, t
        if state == 1:
            total += end - since
        return total

    def close(self):
        self._stop = True
        self._thread.join(timeout=1)
        os.close(self._fd)
