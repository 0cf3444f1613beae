"""Child processes started inside a given cgroup, and what /proc says about them."""

import os
import signal
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")

# Every process the benchmark started and has not reaped yet, for the cleanup on any exit path.
LIVE = []


class Proc:
    """A child placed in `cgroup` before it execs (a one-line sh wrapper writes its own pid to
    cgroup.procs and execs the command), so not a single instruction of it runs elsewhere.
    The wrapper costs ~1 ms, which reaction times include (they are measured in 100s of ms)."""

    def __init__(self, name, cmd, cgroup, out_path, env=None, role="load"):
        self.name = name
        self.role = role  # "daemon" processes get SIGTERM first on cleanup, so they thaw
        self.out_path = out_path
        self._out = open(out_path, "wb")
        wrapper = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', cgroup.file("cgroup.procs")]
        self.popen = subprocess.Popen(wrapper + [str(c) for c in cmd], stdout=self._out,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=env, start_new_session=True, close_fds=True)
        self.pid = self.popen.pid
        LIVE.append(self)

    def alive(self):
        return self.popen.poll() is None

    def _reaped(self):
        self._out.close()
        if self in LIVE:
            LIVE.remove(self)

    def wait(self, timeout=None):
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reaped()
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signal, wait up to timeout, then SIGKILL. Returns the exit status."""
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            rc = self.wait(timeout)
            if rc is not None:
                return rc
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        rc = self.popen.wait()
        self._reaped()
        return rc

    def output(self):
        # The child writes to the file directly; this object never buffers anything.
        with open(self.out_path, "r", errors="replace") as f:
            return f.read()

    # --- /proc readers -------------------------------------------------------------------
    def stat_cpu_s(self):
        """(utime+stime, cutime+cstime) in seconds from /proc/PID/stat; None once it is gone."""
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                text = f.read()
        except OSError:
            return None
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        fields = text[text.rindex(")") + 2:].split()
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK

    def status(self):
        """/proc/PID/status as a dict of strings; {} once it is gone."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                lines = f.read().splitlines()
        except OSError:
            return {}
        out = {}
        for line in lines:
            k, _, v = line.partition(":")
            out[k] = v.strip()
        return out

    def vm_hwm_kib(self):
        v = self.status().get("VmHWM", "0 kB").split()[0]
        return int(v)

    def voluntary_switches(self):
        return int(self.status().get("voluntary_ctxt_switches", "0"))

    def schedstat_s(self):
        """Own CPU time in seconds with ns resolution (/proc/PID/schedstat field 1)."""
        try:
            with open("/proc/%d/schedstat" % self.pid) as f:
                return int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return None


def stop_all(log=lambda msg: None):
    """Cleanup path: daemons first (SIGTERM, so they thaw what they froze), then everything else."""
    for role in ("load", "daemon", "miner"):
        for p in [p for p in LIVE if p.role == role and p.alive()]:
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3
        for p in [p for p in LIVE if p.role == role]:
            if p.wait(max(0.0, deadline - time.monotonic())) is None:
                log("cleanup: %s (pid %d) ignored SIGTERM, killing" % (p.name, p.pid))
                p.stop(signal.SIGKILL, 1)


def read_proc_stat_cpu():
    """Aggregate 'cpu' line of /proc/stat -> (busy_nonnice, nice, total) in seconds.

    'cpu  user nice system idle iowait irq softirq steal guest guest_nice'."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    v = [int(x) for x in parts[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    total = sum(v)
    return (user + system + irq + softirq) / CLK_TCK, nice / CLK_TCK, total / CLK_TCK
