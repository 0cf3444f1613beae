"""The four figures: reaction, cost, interference, flapping. Each returns plain dicts (-> JSON)."""

import json
import os
import random
import time

from .procs import Proc, read_proc_stat_cpu
from .session import OURS_DEFAULT_DEBOUNCE, Session


def sleep_until(t):
    while True:
        d = t - time.monotonic()
        if d <= 0:
            return
        time.sleep(min(d, 0.5))


def _load(bench, name, cgroup, threads, duty=100, duration=None, period_ms=10):
    cmd = [bench.tool("xap-cpu-load"), "--threads", threads, "--duty", duty, "--period-ms", period_ms]
    if duration is not None:
        cmd += ["--duration", duration]
    return Proc(name, cmd, cgroup, bench.new_path(name) + ".out")


# --- 1. reaction ------------------------------------------------------------------------------
def reaction(bench, c, trials, grace, rng, hold=1.0):
    """Freeze reaction (load onset -> 'frozen 1') and thaw reaction (load end -> 'frozen 0', minus
    the grace period), over `trials` valid trials of a one-core foreground load in <scratch>/fg.

    A trial whose miner is already frozen at onset (a freeze caused by something else, e.g. load
    from outside the benchmark) is not valid; it is counted and retried (up to `trials` extra per
    call; the caller gives up on a contender after as many invalid trials as it wanted valid ones)."""
    poll = c.effective_poll
    out = {"contender": c.key, "label": c.label, "grace_s": grace, "trials": [], "invalid": []}
    with Session(bench, c, grace=grace, tag="reaction-" + c.key) as s:
        w = s.watcher
        attempts = 0
        while len(out["trials"]) < trials and attempts < 2 * trials:
            attempts += 1
            if w.state == 1:  # still frozen from an earlier freeze: give the daemon time to thaw
                w.wait_state(0, grace + 2 * poll + 10)
            # A random settle so the onset falls at a random phase of the daemon's poll.
            time.sleep(1.0 + rng.uniform(0, max(poll, 0.2)))
            if w.state == 1:
                out["invalid"].append("frozen before onset (freeze not caused by the trial load)")
                continue
            t_on = time.monotonic()
            load = _load(bench, "reaction-load", bench.fg_cg, 1)
            t_fr = w.wait_for(1, t_on, 2 * poll + OURS_DEFAULT_DEBOUNCE + 10)
            if t_fr is None:
                load.stop()
                out["invalid"].append("no freeze within %.1f s of onset" % (2 * poll + 10))
                continue
            time.sleep(hold)
            t_off = time.monotonic()
            load.stop()
            t_th = w.wait_for(0, t_off, grace + 4 * poll + 30)
            if t_th is None:
                out["invalid"].append("no thaw within %.1f s of load end" % (grace + 4 * poll + 30))
                continue
            out["trials"].append({"freeze_s": round(t_fr - t_on, 4), "thaw_minus_grace_s": round(t_th - t_off - grace, 4)})
        out["daemon_config"] = getattr(s, "config", None)
    out["problems"] = s.problems
    return out


# --- 2. cost ----------------------------------------------------------------------------------
def _cpu_delta(a, b):
    dt = b["t"] - a["t"]
    d = {"interval_s": round(dt, 3)}
    for k in ("cgroup_s", "stat_s", "children_stat_s", "own_precise_s"):
        if a.get(k) is not None and b.get(k) is not None:
            d[k] = b[k] - a[k]
    d["vol_switches"] = b["vol_switches"] - a["vol_switches"]
    # Per hour: the precise cgroup figure (includes the prototype's systemctl children) and the
    # /proc/PID/stat utime+stime one (10 ms resolution; the daemon process itself).
    d["cpu_s_per_hour"] = d["cgroup_s"] * 3600 / dt
    if "stat_s" in d:
        d["stat_cpu_s_per_hour"] = d["stat_s"] * 3600 / dt
    d["core_pct"] = d["cgroup_s"] / dt * 100
    return d


class WakeupFloor:
    """The platform's cost of a bare timer wake-up at the daemon's poll: xap-cpu-load with a 0 %
    duty wakes every period and does nothing else. Runs in <scratch>/floor next to a measurement."""

    def __init__(self, bench, period_s):
        self.cg = bench.root.child("floor").create()
        self.period_s = period_s
        self.proc = _load(bench, "wakeup-floor", self.cg, 1, duty=0, period_ms=period_s * 1000)

    def mark(self):
        return time.monotonic(), self.cg.usage_usec()

    def us_per_wakeup(self, a, b):
        wakeups = (b[0] - a[0]) / self.period_s
        return (b[1] - a[1]) / wakeups if wakeups > 0 else None

    def stop(self):
        self.proc.stop()


def idle_cost(bench, c, duration, warmup=1.0):
    """Daemon CPU and peak RSS with the miner running and no foreground load."""
    floor = WakeupFloor(bench, c.effective_poll)
    try:
        with Session(bench, c, tag="idle-" + c.key) as s:
            time.sleep(warmup)
            a, fa = s.daemon_cpu(), floor.mark()
            time.sleep(duration)
            b, fb = s.daemon_cpu(), floor.mark()
            mem = s.daemon_mem()
            freezes, thaws, _ = s.watcher.transitions(a["t"], b["t"])
    finally:
        floor.stop()
    d = _cpu_delta(a, b)
    ticks = d["interval_s"] / c.effective_poll
    d.update({"contender": c.key, "label": c.label, "vm_hwm_kib": mem.get("VmHWM"), "mem_kib": mem,
              "freezes": freezes, "thaws": thaws, "ticks": round(ticks, 1),
              "us_per_tick": d["cgroup_s"] / ticks * 1e6, "floor_us_per_wakeup": floor.us_per_wakeup(fa, fb),
              "problems": s.problems})
    return d


def per_tick(bench, c, n, populated, duration, warmup=2.0, state_root=None):
    """CPU per tick of our daemon watching n scratch cgroups (each with a sleeping process, or
    empty), at its default poll. Ticks are counted as interval / poll; the daemon's voluntary
    context switches (one per timer wake-up) are reported as a check. state_root: put the state
    directory there (a tmpfs separates the status-file writes from the sampling cost)."""
    wroot = bench.root.child("w").create()
    cgs = [wroot.child("c%03d" % i).create() for i in range(n)]
    sleepers = []
    floor = None
    try:
        if populated:
            for cg in cgs:
                sleepers.append(Proc("sleeper", ["sleep", "100000"], cg, "/dev/null"))
        floor = WakeupFloor(bench, c.effective_poll)
        with Session(bench, c, watched=cgs, tag="tick-%d-%s" % (n, "pop" if populated else "empty"),
                     state_root=state_root) as s:
            time.sleep(warmup)
            a, fa = s.daemon_cpu(), floor.mark()
            time.sleep(duration)
            b, fb = s.daemon_cpu(), floor.mark()
            hwm = s.daemon_hwm_kib()
            freezes, _, _ = s.watcher.transitions(a["t"], b["t"])
    finally:
        if floor:
            floor.stop()
        for p in sleepers:
            p.stop(timeout=2)
        for cg in cgs:
            try:
                os.rmdir(cg.path)
            except OSError:
                pass
    d = _cpu_delta(a, b)
    ticks = d["interval_s"] / c.effective_poll
    d.update({"watched": n, "populated": populated, "ticks": round(ticks, 1), "state_on": state_root or "workdir",
              "us_per_tick": d["cgroup_s"] / ticks * 1e6, "vm_hwm_kib": hwm, "freezes": freezes,
              "floor_us_per_wakeup": floor.us_per_wakeup(fa, fb),
              "problems": s.problems})
    return d


def linear_fit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx
    icpt = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (icpt + slope * x)) ** 2 for x, y in zip(xs, ys))
    return {"intercept_us": icpt, "slope_us_per_cgroup": slope, "r2": 1 - ss_res / ss_tot if ss_tot else 1.0}


# --- 3. interference --------------------------------------------------------------------------
def _chase_stats(text):
    acc = wall = cpu = 0.0
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        o = json.loads(line)
        acc += o["accesses"]
        wall += o["ns_per_access"] * o["accesses"]
        cpu += o["cpu_ns_per_access"] * o["accesses"]
    if not acc:
        return None
    return {"ns_per_access": wall / acc, "cpu_ns_per_access": cpu / acc, "accesses": int(acc)}


def _last_json(text):
    for line in reversed(text.splitlines()):
        if line.strip().startswith("{"):
            return json.loads(line)
    return None


def trace(bench, c, phases, chase_kib, light_cores, gap_ms=5):
    """Run the foreground trace once under contender c.

    Phases: idle (only the request-loop probe), light (plus a duty-cycled load of `light_cores`
    in the watched <scratch>/game: above its per-service threshold, below the system threshold),
    heavy (plus the pointer chase on one core, a cache-sensitive foreground job). Each phase gets
    its own request-loop instance (p50/p99 per phase)."""
    phase_procs = []
    with Session(bench, c, tag="trace-" + c.key) as s:
        t0, w0 = s.sync_miner_report()
        cpu_a = s.daemon_cpu()
        sys_a, scratch_a, self_a = read_proc_stat_cpu(), bench.root.usage_usec(), sum(os.times()[:2])
        offset = 0.0
        for i, (kind, length) in enumerate(phases):
            ts = t0 + offset
            sleep_until(ts)
            procs = {"request": Proc("request-loop", [bench.tool("xap-request-loop"), "--duration", length,
                                                      "--gap-ms", gap_ms, "--json"],
                                     bench.fg_cg, bench.new_path("p%d-%s-request" % (i, kind)) + ".out")}
            if kind == "light":
                duty = min(100.0, light_cores * 100.0)
                procs["light"] = _load(bench, "p%d-light" % i, bench.game_cg, 1, duty=duty, duration=length)
            elif kind == "heavy":
                procs["chase"] = Proc("pointer-chase", [bench.tool("xap-pointer-chase"), "--size-kib", chase_kib,
                                                        "--interval-ms", 100, "--duration", length, "--json"],
                                      bench.fg_cg, bench.new_path("p%d-heavy-chase" % i) + ".out")
            phase_procs.append((kind, length, ts, procs))
            offset += length
        t_end = t0 + offset
        sleep_until(t_end)
        for _, _, _, procs in phase_procs:
            for p in procs.values():
                if p.wait(10) is None:
                    p.stop()
        cpu_b = s.daemon_cpu()
        sys_b, scratch_b, self_b = read_proc_stat_cpu(), bench.root.usage_usec(), sum(os.times()[:2])
        mem = s.daemon_mem()
        freezes, thaws, events = s.watcher.transitions(t0, t_end)
        frozen = [s.watcher.frozen_seconds(ts, ts + length) for _, length, ts, _ in phase_procs]
    work = (s.final_total - w0) if c.nice is not None else None
    out = {"contender": c.key, "label": c.label, "duration_s": offset, "miner_work": work,
           "freezes": freezes, "thaws": thaws, "transitions": events, "phases": [],
           "problems": s.problems, "daemon_config": getattr(s, "config", None)}
    for (kind, length, ts, procs), fz in zip(phase_procs, frozen):
        ph = {"kind": kind, "length_s": length, "miner_frozen_s": round(fz, 2)}
        rl = _last_json(procs["request"].output())
        if rl:
            ph["request"] = {k: rl[k] for k in ("requests", "mean_us", "p50_us", "p95_us", "p99_us", "max_us")}
        if "chase" in procs:
            ph["chase"] = _chase_stats(procs["chase"].output())
        out["phases"].append(ph)
    if cpu_a is not None:
        d = _cpu_delta(cpu_a, cpu_b)
        d["vm_hwm_kib"] = mem.get("VmHWM")
        d["mem_kib"] = mem
        out["daemon_cost"] = d
    dt = (sys_b[2] - sys_a[2]) / bench.nproc  # wall seconds, from /proc/stat's total
    busy = (sys_b[0] - sys_a[0]) + (sys_b[1] - sys_a[1])
    ours = (scratch_b - scratch_a) / 1e6 + (self_b - self_a)
    out["foreign_cpu_cores"] = round(max(0.0, busy - ours) / dt, 3) if dt > 0 else None
    return out


def summarize_trace(run):
    """Busy-phase probe figures of one trace run."""
    def mean(xs):
        xs = [x for x in xs if x is not None]
        return sum(xs) / len(xs) if xs else None
    ph = run["phases"]
    chase = [p["chase"] for p in ph if p.get("chase")]
    acc = sum(x["accesses"] for x in chase)
    return {
        "chase_heavy_ns": (sum(x["ns_per_access"] * x["accesses"] for x in chase) / acc) if acc else None,
        "chase_heavy_cpu_ns": (sum(x["cpu_ns_per_access"] * x["accesses"] for x in chase) / acc) if acc else None,
        "p99_light_us": mean([p["request"]["p99_us"] for p in ph if p["kind"] == "light" and "request" in p]),
        "p99_heavy_us": mean([p["request"]["p99_us"] for p in ph if p["kind"] == "heavy" and "request" in p]),
        "p99_busy_us": mean([p["request"]["p99_us"] for p in ph if p["kind"] != "idle" and "request" in p]),
        "p99_idle_us": mean([p["request"]["p99_us"] for p in ph if p["kind"] == "idle" and "request" in p]),
        "busy_frozen_frac": (sum(p["miner_frozen_s"] for p in ph if p["kind"] != "idle")
                             / max(1e-9, sum(p["length_s"] for p in ph if p["kind"] != "idle"))),
    }


# --- 4. flapping ------------------------------------------------------------------------------
def flapping(bench, c, length, period, spike, warmup, first=5.0):
    """All-core spikes of `spike` s every `period` s (the first `first` s after the start).

    Freeze/thaw transitions are counted over `length` s after a `warmup` of the same spikes and
    scaled to an hour: a rate under a periodic load is a steady-state figure, and ours needs two
    thaw-then-freeze cycles before its resume back-off engages. The counts including the warm-up are
    reported as well."""
    total = warmup + length
    with Session(bench, c, tag="flap-" + c.key) as s:
        t0 = time.monotonic()
        starts = []
        while first + len(starts) * period + spike <= total:
            starts.append(first + len(starts) * period)
        k = len(starts)
        spikes = []
        t_a = None
        for at in starts + [None]:
            if t_a is None and (at is None or at >= warmup):
                sleep_until(t0 + warmup)
                cpu_a, t_a = s.daemon_cpu(), time.monotonic()
            if at is None:
                break
            sleep_until(t0 + at)
            spikes.append(_load(bench, "spike", bench.fg_cg, bench.nproc, duration=spike))
        sleep_until(t0 + total)
        for p in spikes:
            p.wait(5)
        t_end = time.monotonic()
        cpu_b = s.daemon_cpu()
        freezes, thaws, events = s.watcher.transitions(t_a, t_end)
        all_f, all_t, all_events = s.watcher.transitions(t0, t_end)
        frozen_s = s.watcher.frozen_seconds(t_a, t_end)
    scale = 3600.0 / (t_end - t_a)
    measured_spikes = sum(1 for i in range(k) if first + i * period >= warmup)
    out = {"contender": c.key, "label": c.label, "length_s": round(t_end - t_a, 1), "warmup_s": warmup,
           "spikes": measured_spikes, "spikes_total": k, "spike_s": spike, "period_s": period,
           "freezes": freezes, "thaws": thaws, "cycles_per_hour": freezes * scale,
           "transitions_per_hour": (freezes + thaws) * scale, "frozen_frac": frozen_s / (t_end - t_a),
           "with_warmup": {"freezes": all_f, "thaws": all_t, "length_s": round(t_end - t0, 1),
                           "cycles_per_hour": all_f * 3600.0 / (t_end - t0)},
           "transitions": all_events, "problems": s.problems}
    if cpu_a is not None:
        out["daemon_cost"] = _cpu_delta(cpu_a, cpu_b)
    return out
