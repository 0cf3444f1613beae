#!/usr/bin/env python3
"""Benchmark of xmrig-auto-pause against its prototype, a miner that is always on, and no miner.

    sudo tests/bench/run.py --build BUILD_DIR --out results.json [--quick]

Needs root, a writable cgroup v2 hierarchy, the project built in BUILD_DIR (daemon and
tests/tools), and for the prototype contenders python3 and seed_auto_pause.py (--prototype).
Everything runs in scratch cgroups under <cgroup v2 mount>/xap-bench, removed on every exit path.
See tests/bench/README.md for what is measured and how.
"""

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from xap_bench import cgroups, figures, procs, report  # noqa: E402
from xap_bench.session import Bench, contender  # noqa: E402

# The prototype lives beside the repository (../shared/reference), never inside it.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_PROTOTYPE = os.path.join(os.path.dirname(REPO), "shared", "reference", "seed_auto_pause.py")

# What each mode runs. Reaction groups are interleaved in blocks of trials; the interference
# contenders run in this order ("none" twice: first and last, which also shows the noise floor).
PLANS = {
    "quick": {
        "reaction_groups": [["ours-n19", "proto-n19"]],
        "reaction_trials": {"ours-n19": 2, "proto-n19": 1},
        "reaction_block": 2,
        "idle": ["ours-n19", "proto-n19"], "idle_s": 6,
        "tick_ns": [1, 50, 500], "tick_empty": [], "tick_tmpfs": [], "tick_s": 5,
        "trace": [("idle", 3), ("light", 5), ("idle", 3), ("heavy", 5)],
        "trace_contenders": ["none", "always-n19", "ours-n19", "proto-n19"], "trace_rounds": 1,
        "flap": ["ours-n19", "proto-n19"], "flap_warmup_s": 0, "flap_s": 14,
    },
    "full": {
        "reaction_groups": [["ours-n19", "proto-n19"], ["ours-n0"], ["ours-p1-n19", "proto-p1-n19"]],
        "reaction_trials": {"ours-n19": 10, "proto-n19": 10, "ours-n0": 6, "ours-p1-n19": 5, "proto-p1-n19": 5},
        "reaction_block": 5,
        "idle": ["ours-n19", "proto-n19", "ours-p1-n19", "proto-p1-n19"], "idle_s": 12,
        "tick_ns": [1, 50, 200, 500], "tick_empty": [500], "tick_tmpfs": [1], "tick_s": 15,
        "trace": [("idle", 12), ("light", 10), ("idle", 20), ("heavy", 10), ("idle", 10)],
        "trace_contenders": ["none", "always-n19", "ours-n19", "proto-n19", "ours-p1-n19", "proto-p1-n19",
                             "always-n0", "ours-n0", "proto-n0", "none"],
        # Two 'no miner' runs differed by 6-16 % here: one run per contender cannot judge a 10 % goal,
        # so the whole sequence runs three times and each figure is the median of its rounds.
        "trace_rounds": 3,
        # The first three spikes are warm-up (ours engages its back-off at the third freeze).
        "flap": ["ours-n19", "proto-n19"], "flap_warmup_s": 3 * 25.0, "flap_s": 150,
    },
}
REACTION_GRACE_S = 3.0      # both daemons; ours also gets grace_period_max = 3 s (no back-off)
FLAP_PERIOD_S, FLAP_SPIKE_S = 25.0, 1.5
LIGHT_CORES = 0.12          # light per-service load in the watched cgroup
WATCHED_CORES = 0.05        # its per-service threshold (both daemons, as % of total CPU)


class Interrupted(Exception):
    pass


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def l2_kib():
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for d in sorted(os.listdir(base)):
            p = os.path.join(base, d)
            with open(os.path.join(p, "level")) as f:
                level = f.read().strip()
            with open(os.path.join(p, "type")) as f:
                kind = f.read().strip()
            if level == "2" and kind in ("Unified", "Data"):
                with open(os.path.join(p, "size")) as f:
                    s = f.read().strip()
                return int(s[:-1]) * (1024 if s.endswith("M") else 1) if s[-1] in "KM" else int(s) // 1024
    except (OSError, ValueError):
        pass
    return 2048


def fs_type(path):
    """Filesystem type of the mount holding path (longest mount point prefix in mountinfo)."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mp = cgroups._unescape_mountinfo(left.split()[4])
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best):
                best, kind = mp, right.split()[0]
    return kind


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_quiet(limit_s, threshold):
    start = time.monotonic()
    while True:
        la = loadavg()
        if la < threshold:
            return {"waited_s": round(time.monotonic() - start), "loadavg": la, "quiet": True}
        if time.monotonic() - start >= limit_s:
            return {"waited_s": round(time.monotonic() - start), "loadavg": la, "quiet": False}
        log("waiting for a quiet machine: load average %.2f >= %.2f" % (la, threshold))
        time.sleep(min(30, max(1, limit_s - (time.monotonic() - start))))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def preflight(args):
    problems = []
    if os.geteuid() != 0:
        problems.append("needs root (cgroup writes)")
    daemon = os.path.join(args.build, "xmrig-auto-pause")
    tools = os.path.join(args.build, "tests", "tools")
    for p in [daemon] + [os.path.join(tools, t) for t in
                         ("xap-miner-standin", "xap-cpu-load", "xap-pointer-chase", "xap-request-loop")]:
        if not os.access(p, os.X_OK):
            problems.append("missing executable %s (build the project first)" % p)
    return daemon, tools, problems


def run_reaction(bench, plan, rng, res):
    for group in plan["reaction_groups"]:
        want = {k: plan["reaction_trials"][k] for k in group}
        merged = {}
        while any(want[k] > len(merged.get(k, {}).get("trials", [])) for k in group):
            for k in group:
                have = len(merged.get(k, {}).get("trials", []))
                if have >= want[k]:
                    continue
                c = contender(k)
                if c.daemon == "proto" and not bench.prototype:
                    want[k] = 0
                    continue
                n = min(plan["reaction_block"], want[k] - have)
                log("reaction: %s, %d trials" % (c.label, n))
                r = figures.reaction(bench, c, n, REACTION_GRACE_S, rng)
                if k not in merged:
                    merged[k] = r
                else:
                    merged[k]["trials"] += r["trials"]
                    merged[k]["invalid"] += r["invalid"]
                    merged[k]["problems"] += r["problems"]
                if len(merged[k]["invalid"]) >= plan["reaction_trials"][k]:
                    want[k] = len(merged[k]["trials"])  # too noisy: give up on this contender
        for k in group:
            if k in merged:
                merged[k]["stats"] = report.reaction_stats(merged[k]) if merged[k]["trials"] else None
                res["reaction"].append(merged[k])


def run_cost(bench, plan, res):
    cost = res.setdefault("cost", {"idle": [], "per_tick": []})
    for k in plan["idle"]:
        c = contender(k)
        if c.daemon == "proto" and not bench.prototype:
            continue
        log("cost idle: %s, %d s" % (c.label, plan["idle_s"]))
        cost["idle"].append(figures.idle_cost(bench, c, plan["idle_s"]))
    ours = contender("ours-n19")
    for n in plan["tick_ns"]:
        log("cost per tick: %d watched cgroups with a process, %d s" % (n, plan["tick_s"]))
        cost["per_tick"].append(figures.per_tick(bench, ours, n, True, plan["tick_s"]))
    for n in plan["tick_empty"]:
        log("cost per tick: %d watched empty cgroups, %d s" % (n, plan["tick_s"]))
        cost["per_tick"].append(figures.per_tick(bench, ours, n, False, plan["tick_s"]))
    tmpfs = "/dev/shm" if os.path.isdir("/dev/shm") else None
    for n in plan["tick_tmpfs"] if tmpfs and fs_type(tmpfs) == "tmpfs" else []:
        log("cost per tick: %d watched cgroups with a process, state directory on tmpfs, %d s" % (n, plan["tick_s"]))
        cost["per_tick"].append(figures.per_tick(bench, ours, n, True, plan["tick_s"], state_root=tmpfs))
    pop = [d for d in cost["per_tick"] if d["populated"] and d["state_on"] == "workdir"]
    if len(pop) >= 2:
        cost["per_tick_fit"] = figures.linear_fit([d["watched"] for d in pop], [d["us_per_tick"] for d in pop])


def run_interference(bench, plan, res, chase_kib):
    rounds = plan.get("trace_rounds", 1)
    for n in range(1, rounds + 1):
        for k in plan["trace_contenders"]:
            c = contender(k)
            if c.daemon == "proto" and not bench.prototype:
                continue
            log("interference trace, round %d/%d: %s (%.0f s)" % (n, rounds, c.label,
                                                                   sum(l for _, l in plan["trace"])))
            run = figures.trace(bench, c, plan["trace"], chase_kib, LIGHT_CORES)
            run["summary"] = figures.summarize_trace(run)
            run["round"] = n
            res["interference"].append(run)
    summarize_interference(res)


# The per-run figures a contender's row shows, each the median over its rounds.
MEDIAN_KEYS = ("chase_heavy_ns", "p99_light_us", "p99_heavy_us", "p99_busy_us", "p99_idle_us", "busy_frozen_frac")


def summarize_interference(res):
    runs = res["interference"]
    by = {}
    for r in runs:
        by.setdefault(r["contender"], []).append(r)
    nones = [r["summary"] for r in by.get("none", [])]
    base_chase = report.median([s["chase_heavy_ns"] for s in nones])
    base_p99 = report.median([s["p99_busy_us"] for s in nones])
    if len(nones) >= 2:
        # The spread of the 'no miner' runs, as a percentage of their median: what noise alone does.
        def spread(key, base):
            xs = [s[key] for s in nones if s.get(key) is not None]
            return 100.0 * (max(xs) - min(xs)) / base if xs and base else 0.0
        res["interference_noise"] = {"runs": len(nones), "chase_pct": spread("chase_heavy_ns", base_chase),
                                     "p99_busy_pct": spread("p99_busy_us", base_p99)}
    always = {}
    for key, rs in by.items():
        if key.startswith("always-"):
            always[key.split("-")[-1]] = report.median([r["miner_work"] for r in rs])
    summary = {}
    for key, rs in by.items():
        s = {k: report.median([r["summary"].get(k) for r in rs]) for k in MEDIAN_KEYS}
        s["label"] = rs[0]["label"]
        s["rounds"] = len(rs)
        s["freezes_thaws"] = ["%d/%d" % (r["freezes"], r["thaws"]) for r in rs]
        s["foreign_cpu_cores"] = report.median([r.get("foreign_cpu_cores") for r in rs])
        s["chase_slowdown_pct"] = report.pct_change(s["chase_heavy_ns"], base_chase)
        s["p99_busy_slowdown_pct"] = report.pct_change(s["p99_busy_us"], base_p99)
        s["miner_work"] = report.median([r["miner_work"] for r in rs])
        nice = key.split("-")[-1]
        if s["miner_work"] is not None and always.get(nice):
            s["work_vs_always_pct"] = 100.0 * s["miner_work"] / always[nice]
        summary[key] = s
    res["interference_summary"] = summary
    res["interference_rounds"] = max(r.get("round", 1) for r in runs)


def run_flapping(bench, plan, res):
    for k in plan["flap"]:
        c = contender(k)
        if c.daemon == "proto" and not bench.prototype:
            continue
        log("flapping: %s (%g s warm-up + %g s)" % (c.label, plan["flap_warmup_s"], plan["flap_s"]))
        res["flapping"].append(figures.flapping(bench, c, plan["flap_s"], FLAP_PERIOD_S, FLAP_SPIKE_S,
                                                plan["flap_warmup_s"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="CMake build directory (xmrig-auto-pause, tests/tools/xap-*)")
    ap.add_argument("--out", default="bench-results.json", help="JSON results (default %(default)s)")
    ap.add_argument("--quick", action="store_true", help="CI smoke run, about 3 minutes (figures are indicative)")
    ap.add_argument("--only", default="reaction,cost,interference,flapping",
                    help="comma-separated figures to run (default: all)")
    ap.add_argument("--prototype", default=os.environ.get("XAP_PROTOTYPE", DEFAULT_PROTOTYPE),
                    help="the prototype script, run unchanged (default %(default)s; missing: its contenders are skipped)")
    ap.add_argument("--python", default=shutil.which("python3") or sys.executable, help="interpreter for the prototype")
    ap.add_argument("--chase-kib", type=int, default=0, help="pointer-chase working set (default: the L2 size)")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="first wait up to SECONDS for the 1-min load average to drop below --quiet-load")
    ap.add_argument("--quiet-load", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1, help="seed of the random settle times in reaction trials")
    ap.add_argument("--keep-logs", action="store_true", help="keep daemon and tool outputs (path printed at the end)")
    ap.add_argument("--strict", action="store_true", help="exit 3 when a goal FAILs")
    args = ap.parse_args()

    daemon, tools, problems = preflight(args)
    if problems:
        for p in problems:
            print("run.py: " + p, file=sys.stderr)
        return 2
    prototype = args.prototype if args.prototype and os.path.isfile(args.prototype) else None
    if not prototype:
        log("prototype %s not found: its contenders are skipped" % args.prototype)
    mode = "quick" if args.quick else "full"
    plan = PLANS[mode]
    only = set(args.only.split(","))
    chase_kib = args.chase_kib or l2_kib()

    res = {"meta": {"mode": mode, "date": datetime.date.today().isoformat(), "kernel": platform.release(),
                    "nproc": os.cpu_count(), "cpu_model": cpu_model(), "chase_kib": chase_kib,
                    "trace": " ".join("%s %gs" % p for p in plan["trace"]),
                    "light_cores": LIGHT_CORES, "watched_cores": WATCHED_CORES,
                    "reaction_grace_s": REACTION_GRACE_S, "prototype": prototype, "daemon": daemon},
           "reaction": [], "interference": [], "flapping": []}
    try:
        v = subprocess.run([daemon, "--version"], capture_output=True, text=True, timeout=5)
        res["meta"]["daemon_version"] = v.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass

    try:
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        head = subprocess.run(["git", "-C", repo, "log", "-1", "--format=%h %cs %s"], capture_output=True,
                              text=True, timeout=5)
        res["meta"]["source_head"] = head.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass

    if args.wait_quiet > 0:
        res["meta"]["quiet_wait"] = wait_quiet(args.wait_quiet, args.quiet_load)
        if not res["meta"]["quiet_wait"]["quiet"]:
            log("machine never got quiet (load %.2f): taking figures anyway" % res["meta"]["quiet_wait"]["loadavg"])

    mount = cgroups.find_v2_mount()
    root = cgroups.Cgroup(mount, cgroups.SCRATCH_NAME)
    if os.path.isdir(root.path):
        log("removing a scratch tree left by an earlier run: %s" % root.path)
        cgroups.destroy_tree(root.path, log)
    root.create()
    if not os.path.exists(root.file("cgroup.freeze")):
        print("run.py: %s has no cgroup.freeze (kernel < 5.2?)" % root.path, file=sys.stderr)
        os.rmdir(root.path)
        return 2
    # /var/tmp: on disk like the daemon's real state directory (/var/lib/xmrig-auto-pause), which
    # matters because the daemon rewrites status.json there (on change, else every 5 s).
    workdir = tempfile.mkdtemp(prefix="xap-bench-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    res["meta"].update({"cgroup_v2_mount": mount, "scratch": root.path, "workdir": workdir,
                        "state_dir_fs": fs_type(workdir)})

    def on_signal(signum, frame):
        raise Interrupted(signal.Signals(signum).name)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    rc = 0
    t_start = time.monotonic()
    res["meta"]["loadavg_start"] = loadavg()
    bench = Bench(daemon_bin=daemon, tools=tools, prototype=prototype, python=args.python, root=root,
                  workdir=workdir, nproc=os.cpu_count(), log=log, watched_cores=WATCHED_CORES)
    rng = random.Random(args.seed)
    sections = res["meta"]["section_s"] = {}
    try:
        log("%s mode, cgroup v2 at %s, scratch %s, logs in %s" % (mode, mount, root.path, workdir))
        for name, fn in (("reaction", lambda: run_reaction(bench, plan, rng, res)),
                         ("cost", lambda: run_cost(bench, plan, res)),
                         ("interference", lambda: run_interference(bench, plan, res, chase_kib)),
                         ("flapping", lambda: run_flapping(bench, plan, res))):
            if name in only:
                t = time.monotonic()
                fn()
                sections[name] = round(time.monotonic() - t, 1)
    except Interrupted as e:
        log("interrupted (%s): cleaning up" % e)
        res["meta"]["interrupted"] = str(e)
        rc = 130
    except Exception as e:  # noqa: BLE001 - report, clean up, and fail
        log("error: %s: %s" % (type(e).__name__, e))
        res["meta"]["error"] = "%s: %s" % (type(e).__name__, e)
        rc = 1
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        procs.stop_all(log)
        left = cgroups.destroy_tree(root.path, log)
        if left:
            res["meta"]["cleanup_problems"] = left
            rc = rc or 1
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)

    res["meta"]["runtime_s"] = round(time.monotonic() - t_start, 1)
    res["meta"]["harness_cpu_s"] = round(sum(os.times()[:2]), 2)  # this process only, not its children
    res["meta"]["loadavg_end"] = loadavg()
    res["problems"] = bench.problems
    goals = report.evaluate(res)
    res["goals"] = goals.items
    text = report.render(res)
    print(text)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=False)
        f.write("\n")
    log("results written to %s" % args.out)
    if args.keep_logs:
        log("logs kept in %s" % workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if rc == 0 and args.strict and any(g["verdict"] == "FAIL" for g in goals.items):
        rc = 3
    return rc


if __name__ == "__main__":
    sys.exit(main())
