"""Statistics, the printed table and the goal verdicts."""

import math


def quantile(xs, q):
    """Linear interpolation between closest ranks (numpy's default), q in [0, 1]."""
    xs = sorted(xs)
    if not xs:
        return None
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(xs):
    """The median of the values that are not None, or None."""
    return quantile([x for x in xs if x is not None], 0.5)


def reaction_stats(r):
    f = [t["freeze_s"] for t in r["trials"]]
    t = [t["thaw_minus_grace_s"] for t in r["trials"]]
    return {"n": len(f), "freeze_median_s": quantile(f, 0.5), "freeze_p95_s": quantile(f, 0.95),
            "thaw_median_s": quantile(t, 0.5), "thaw_p95_s": quantile(t, 0.95)}


def fmt(x, spec="%.3f", none="-"):
    return none if x is None else spec % x


def pct_change(x, base):
    if x is None or base in (None, 0):
        return None
    return (x / base - 1.0) * 100.0


def table(headers, rows):
    cols = list(zip(*([headers] + rows))) if rows else [[h] for h in headers]
    widths = [max(len(str(v)) for v in col) for col in cols]
    def line(vals):
        return "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(vals, widths)))
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


class Goals:
    def __init__(self):
        self.items = []

    def add(self, name, ok, value, target):
        verdict = "SKIP" if ok is None else ("PASS" if ok else "FAIL")
        self.items.append({"goal": name, "verdict": verdict, "value": value, "target": target})

    def note(self, name, value, context):
        """A figure that explains a verdict; not a goal."""
        self.items.append({"goal": name, "verdict": "NOTE", "value": value, "target": context})

    def text(self):
        return "\n".join(goal_line(g) for g in self.items)


def goal_line(g):
    return "%s  %s: %s (%s %s)" % (g["verdict"], g["goal"], g["value"],
                                   "context:" if g["verdict"] == "NOTE" else "target", g["target"])


def evaluate(res):
    """The goals from the issue, from the collected results. Returns Goals."""
    g = Goals()
    react = {r["contender"]: r for r in res.get("reaction", [])}
    st = {k: reaction_stats(v) for k, v in react.items() if v["trials"]}

    ours, proto = st.get("ours-n19"), st.get("proto-n19")
    if ours:
        g.add("reaction to freeze p95 at defaults (ours, nice 19)", ours["freeze_p95_s"] <= 0.5,
              "%.3f s" % ours["freeze_p95_s"], "<= 0.5 s")
        g.add("reaction to thaw p95 (minus grace) at defaults (ours, nice 19)", ours["thaw_p95_s"] <= 0.5,
              "%.3f s" % ours["thaw_p95_s"], "<= 0.5 s")
    if ours and proto:
        for what in ("freeze", "thaw"):
            a, b = ours[what + "_p95_s"], proto[what + "_p95_s"]
            ratio = b / a if a > 0 else float("inf")
            g.add("reaction to %s p95 vs prototype at defaults" % what, ratio >= 5,
                  "%.1fx faster (%.3f s vs %.3f s)" % (ratio, a, b), ">= 5x")
    elif ours:
        g.add("reaction vs prototype at defaults", None, "prototype not run", ">= 5x")

    cost = res.get("cost", {})
    idle = {d["contender"]: d for d in cost.get("idle", [])}
    loaded = {}
    for run in res.get("interference", []):
        if "daemon_cost" in run and run["contender"] not in loaded:
            loaded[run["contender"]] = run["daemon_cost"]
    for state, table_ in (("idle", idle), ("under changing load", loaded)):
        a, b = table_.get("ours-n19"), table_.get("proto-n19")
        if a and b:
            g.add("CPU per hour %s: ours < prototype" % state, a["cpu_s_per_hour"] < b["cpu_s_per_hour"],
                  "%.2f s/h vs %.2f s/h" % (a["cpu_s_per_hour"], b["cpu_s_per_hour"]), "ours < prototype")
    # Why "ours < prototype" can fail at the defaults: the wake-ups alone. At an equal poll the
    # two daemons do the same number of ticks, and what each tick costs is the comparison.
    a, b = idle.get("ours-n19"), idle.get("proto-n19")
    if a and b and a.get("floor_us_per_wakeup") and a.get("ticks") and a.get("interval_s"):
        floor_s_per_hour = a["floor_us_per_wakeup"] * 1e-6 * a["ticks"] / a["interval_s"] * 3600
        g.note("bare timer wake-ups at ours' default poll", "%.2f s/h" % floor_s_per_hour,
               "the prototype's whole idle cost at its 3 s poll is %.2f s/h" % b["cpu_s_per_hour"])
    a, b = idle.get("ours-p1-n19"), idle.get("proto-p1-n19")
    if a and b:
        g.note("CPU at an equal 1 s poll, idle", "ours %.2f s/h (%.0f us/tick) vs prototype %.2f s/h (%.0f us/tick)" % (
            a["cpu_s_per_hour"], a.get("us_per_tick") or 0, b["cpu_s_per_hour"], b.get("us_per_tick") or 0),
            "same number of ticks")
    a, b = loaded.get("ours-p1-n19"), loaded.get("proto-p1-n19")
    if a and b:
        g.note("CPU at an equal 1 s poll, under the trace", "ours %.2f s/h vs prototype %.2f s/h" % (
            a["cpu_s_per_hour"], b["cpu_s_per_hour"]), "same number of ticks")
    hwm_o = max([d.get("vm_hwm_kib") or 0 for k, d in list(idle.items()) + list(loaded.items()) if k.startswith("ours-")] or [0])
    hwm_p = max([d.get("vm_hwm_kib") or 0 for k, d in list(idle.items()) + list(loaded.items()) if k.startswith("proto-")] or [0])
    if hwm_o and hwm_p:
        g.add("peak RSS <= 1/3 of the prototype's", hwm_o * 3 <= hwm_p,
              "%.1f MiB vs %.1f MiB (%.2f)" % (hwm_o / 1024, hwm_p / 1024, hwm_o / hwm_p), "<= 0.33")

    ticks = [d for d in cost.get("per_tick", []) if d["populated"] and d["state_on"] == "workdir"]
    fit = cost.get("per_tick_fit")
    if fit:
        g.add("cost per tick grows linearly with watched cgroups", fit["r2"] >= 0.95,
              "R^2 %.4f, %.2f us + %.3f us/cgroup" % (fit["r2"], fit["intercept_us"], fit["slope_us_per_cgroup"]),
              "R^2 >= 0.95")
    big = [d for d in cost.get("per_tick", []) if d["watched"] == 500 and d["state_on"] == "workdir"]
    if big:
        worst = max(d["core_pct"] for d in big)
        g.add("500 watched cgroups at the default poll", worst <= 1.0, "%.3f %% of one core" % worst, "<= 1 %")
    elif ticks:
        g.add("500 watched cgroups at the default poll", None, "not measured", "<= 1 %")

    summ = res.get("interference_summary", {})
    for key in ("ours-n19", "ours-n0"):
        s = summ.get(key)
        if not s:
            continue
        worst = max(x for x in (s.get("chase_slowdown_pct"), s.get("p99_busy_slowdown_pct")) if x is not None)
        g.add("busy-phase foreground probe vs no miner (%s)" % key, worst <= 10,
              "chase %s %%, request p99 %s %%" % (fmt(s.get("chase_slowdown_pct"), "%+.1f"),
                                                 fmt(s.get("p99_busy_slowdown_pct"), "%+.1f")), "<= +10 %")
    for nice in (19, 0):
        a, b = summ.get("ours-n%d" % nice), summ.get("proto-n%d" % nice)
        if a and b and a.get("miner_work") is not None and b.get("miner_work"):
            g.add("miner work over the trace >= prototype's (nice %d)" % nice, a["miner_work"] >= b["miner_work"],
                  "%.1f %% vs %.1f %% of always-on" % (a["work_vs_always_pct"], b["work_vs_always_pct"]),
                  "ours >= prototype")

    for f in res.get("flapping", []):
        if f["contender"] == "ours-n19":
            g.add("flapping bounded (ours, nice 19)", f["cycles_per_hour"] <= 30,
                  "%.0f cycles/h (%d freezes, %d thaws in %.0f s after %.0f s warm-up; %.0f/h including it)" % (
                      f["cycles_per_hour"], f["freezes"], f["thaws"], f["length_s"], f["warmup_s"],
                      f["with_warmup"]["cycles_per_hour"]), "<= 30 /h")
    return g


def render(res):
    out = []
    m = res["meta"]
    out.append("xmrig-auto-pause benchmark (%s mode) on %s, kernel %s, %d CPUs, %s" % (
        m["mode"], m["date"], m["kernel"], m["nproc"], m.get("cpu_model", "")))
    out.append("load average at start %s, at end %s; run time %.0f s; the harness itself used %s s of CPU" % (
        m.get("loadavg_start"), m.get("loadavg_end"), m.get("runtime_s", 0), m.get("harness_cpu_s", "?")))

    if res.get("reaction"):
        out.append("\n1. Reaction (one-core load in <scratch>/fg; grace %s s for both daemons, thaw column = "
                   "load end -> thawed minus grace)" % res["reaction"][0]["grace_s"])
        rows = []
        for r in res["reaction"]:
            s = reaction_stats(r) if r["trials"] else {}
            rows.append([r["label"], s.get("n", 0), len(r["invalid"]), fmt(s.get("freeze_median_s")),
                         fmt(s.get("freeze_p95_s")), fmt(s.get("thaw_median_s")), fmt(s.get("thaw_p95_s"))])
        out.append(table(["contender", "n", "invalid", "freeze med s", "freeze p95 s", "thaw med s", "thaw p95 s"], rows))

    cost = res.get("cost", {})
    if cost:
        out.append("\n2. Cost (CPU per hour from the daemon's cgroup usage_usec, which includes children; "
                   "'stat' = /proc/PID/stat utime+stime, 10 ms ticks)")
        rows = []
        def mem(d, k):
            return fmt((d.get("mem_kib") or {}).get(k, 0) / 1024, "%.1f")
        for d in cost.get("idle", []):
            rows.append([d["label"], "idle", "%.3f" % d["cpu_s_per_hour"], fmt(d.get("stat_cpu_s_per_hour"), "%.2f"),
                         "%.4f" % d["core_pct"], fmt(d.get("us_per_tick"), "%.0f"),
                         fmt(d.get("floor_us_per_wakeup"), "%.0f"), fmt((d.get("vm_hwm_kib") or 0) / 1024, "%.1f"),
                         mem(d, "RssAnon"), mem(d, "RssFile")])
        for run in res.get("interference", []):
            d = run.get("daemon_cost")
            if d:
                rows.append([run["label"], "trace", "%.3f" % d["cpu_s_per_hour"],
                             fmt(d.get("stat_cpu_s_per_hour"), "%.2f"), "%.4f" % d["core_pct"], "-", "-",
                             fmt((d.get("vm_hwm_kib") or 0) / 1024, "%.1f"), mem(d, "RssAnon"), mem(d, "RssFile")])
        out.append(table(["daemon", "load", "CPU s/h", "stat s/h", "% core", "us/tick", "floor us", "peak RSS MiB",
                          "anon MiB", "file MiB"], rows))
        if cost.get("per_tick"):
            rows = [[d["watched"], "yes" if d["populated"] else "no",
                     "tmpfs" if d["state_on"] != "workdir" else res["meta"].get("state_dir_fs", "?"), "%.0f" % d["ticks"], d["vol_switches"],
                     "%.1f" % d["us_per_tick"], fmt(d.get("floor_us_per_wakeup"), "%.1f"), "%.4f" % d["core_pct"],
                     "%.1f" % ((d.get("vm_hwm_kib") or 0) / 1024)]
                    for d in cost["per_tick"]]
            out.append("\nper tick, xmrig-auto-pause at its default poll (ticks = interval / poll; voluntary context "
                       "switches as a check; floor = CPU of a bare timer wake-up at the same period, measured alongside)")
            out.append(table(["watched", "with process", "state dir", "ticks", "ctx sw", "us/tick", "floor us",
                              "% core", "RSS MiB"], rows))
            fit = cost.get("per_tick_fit")
            if fit:
                out.append("linear fit (with process, state dir in the work dir): %.2f us + %.4f us per watched cgroup, R^2 = %.4f" % (
                    fit["intercept_us"], fit["slope_us_per_cgroup"], fit["r2"]))

    if res.get("interference_summary"):
        summ = res["interference_summary"]
        rounds = res.get("interference_rounds", 1)
        out.append("\n3. Interference (trace %s; chase = pointer chase %d KiB in heavy phases, wall ns/access; "
                   "p99 = request loop; each figure the median of %d round(s), the contenders interleaved)" % (
                       res["meta"]["trace"], res["meta"]["chase_kib"], rounds))
        rows = []
        for s in summ.values():
            rows.append([s["label"], fmt(s["chase_heavy_ns"], "%.1f"), fmt(s.get("chase_slowdown_pct"), "%+.1f%%"),
                         fmt(s["p99_light_us"], "%.0f"), fmt(s["p99_heavy_us"], "%.0f"),
                         fmt(s.get("p99_busy_slowdown_pct"), "%+.1f%%"), fmt(s["p99_idle_us"], "%.0f"),
                         fmt(s.get("work_vs_always_pct"), "%.1f%%"), "%.0f%%" % (100 * s["busy_frozen_frac"]),
                         " ".join(s["freezes_thaws"]), fmt(s.get("foreign_cpu_cores"), "%.2f")])
        out.append(table(["contender", "chase ns", "vs none", "p99 light us", "p99 heavy us", "busy p99 vs none",
                          "p99 idle us", "work vs always", "busy frozen", "frz/thaw", "foreign cores"], rows))
        n = res.get("interference_noise")
        if n:
            out.append("noise floor (spread of the %d 'no miner' runs, of their median): chase %.1f %%, busy p99 "
                       "%.1f %%" % (n["runs"], n["chase_pct"], n["p99_busy_pct"]))

    if res.get("flapping"):
        f0 = res["flapping"][0]
        out.append("\n4. Flapping (%.1f s all-core spikes every %.0f s; counted over %.0f s after a %.0f s warm-up of the "
                   "same spikes, scaled to an hour; last column: whole run including the warm-up)" % (
                       f0["spike_s"], f0["period_s"], f0["length_s"], f0["warmup_s"]))
        rows = [[f["label"], f["spikes"], f["freezes"], f["thaws"], "%.0f" % f["cycles_per_hour"],
                 "%.0f" % f["transitions_per_hour"], "%.0f%%" % (100 * f["frozen_frac"]),
                 "%d/%d in %.0f s (%.0f/h)" % (f["with_warmup"]["freezes"], f["with_warmup"]["thaws"],
                                               f["with_warmup"]["length_s"], f["with_warmup"]["cycles_per_hour"])]
                for f in res["flapping"]]
        out.append(table(["contender", "spikes", "freezes", "thaws", "cycles/h", "transitions/h", "frozen",
                          "incl. warm-up frz/thaw"], rows))

    if res.get("goals"):
        out.append("\nGoals")
        out.append("\n".join(goal_line(x) for x in res["goals"]))
    if res.get("problems"):
        out.append("\nProblems during the run:")
        out += ["  " + p for p in res["problems"]]
    return "\n".join(out)
