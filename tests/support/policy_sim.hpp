// PolicySim: drives the Controller on a manual clock with a simulated miner that obeys its
// decisions, the way the daemon would, so scenarios read as a list of windows.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/controller.hpp"

namespace xap::test {

using namespace std::chrono_literals;

struct PolicySim {
    explicit PolicySim(PolicySettings s) : controller(std::move(s))
    {
        miner.present = miner.populated = true;
        miner.identity = "cgroup-id:1";
    }

    // One valid window with these loads, as long as the daemon would make it (the poll interval,
    // or what the last decision asked for); returns the decision.
    Decision window(double system_percent, std::vector<double> services = {})
    {
        Window w;
        w.kind = WindowKind::Valid;
        w.length = next_length.value_or(controller.settings().poll_interval);
        w.system_percent = system_percent;
        for (double p : services) w.services.push_back({ServiceLoad::Kind::Measured, p});
        while (w.services.size() < controller.settings().watched.size()) w.services.push_back({});
        return apply(w);
    }

    Decision dropped(WindowKind kind)
    {
        Window w;
        w.kind = kind;
        w.length = controller.settings().poll_interval;
        w.services.assign(controller.settings().watched.size(), ServiceLoad{});
        return apply(w);
    }

    Decision apply(const Window& w)
    {
        now += w.length;
        Decision d = controller.step(w, miner, claim, now);
        next_length = d.measure_again_in;
        if (d.drop_claim) claim = ClaimView{};
        if (d.action == Action::Freeze) {
            claim = ClaimView{true, miner.identity, miner.invocation_id};
            miner.freeze_requested = miner.frozen = true;
            ++freezes;
        } else if (d.action == Action::Thaw) {
            claim = ClaimView{};
            miner.freeze_requested = miner.frozen = false;
            ++thaws;
        }
        return d;
    }

    // Runs windows at this load until the decision matches or max_windows pass; returns how many ran.
    int until(Action a, double system_percent, int max_windows, std::vector<double> services = {})
    {
        for (int i = 1; i <= max_windows; ++i)
            if (window(system_percent, services).action == a) return i;
        return -1;
    }

    // The same, with the system load cycling through `loads`.
    int until_cycle(Action a, const std::vector<double>& loads, int max_windows)
    {
        for (int i = 1; i <= max_windows; ++i)
            if (window(loads[static_cast<std::size_t>(i - 1) % loads.size()]).action == a) return i;
        return -1;
    }

    Controller controller;
    MinerState miner;
    ClaimView claim;
    Duration now{};
    std::optional<Duration> next_length;
    int freezes = 0;
    int thaws = 0;
};

inline PolicySettings fast_settings()
{
    PolicySettings s;
    s.poll_interval = 1s;
    s.grace_period = 5s;
    s.grace_period_max = 20s;
    s.stop_debounce = 2s;
    s.stop_percent = 15;
    s.resume_percent = 5;
    return s;
}

}  // namespace xap::test
