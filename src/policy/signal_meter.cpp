#include "policy/signal_meter.hpp"

#include <algorithm>
#include <array>

namespace xap {
namespace {

constexpr std::array<const char*, CpuTimes::Count> kFieldNames = {"user", "nice",    "system", "idle",  "iowait",
                                                                  "irq",  "softirq", "steal",  "guest", "guest_nice"};

double seconds(Duration d)
{
    return std::chrono::duration<double>(d).count();
}

double clamp_percent(double p)
{
    return std::clamp(p, 0.0, 100.0);
}

Window dropped(WindowKind kind, Duration length, std::string why, std::size_t services)
{
    Window w;
    w.kind = kind;
    w.length = length;
    w.dropped_because = std::move(why);
    w.services.assign(services, ServiceLoad{});
    return w;
}

}  // namespace

SignalMeter::SignalMeter(std::size_t service_count, unsigned clock_ticks_per_second)
    : ticks_per_second_(clock_ticks_per_second == 0 ? 100 : clock_ticks_per_second), service_base_(service_count)
{
}

void SignalMeter::rebaseline(const RawSample& sample)
{
    base_ = Baseline{sample.at, sample.stat, sample.miner.usage};
    for (std::size_t i = 0; i < service_base_.size() && i < sample.services.size(); ++i)
        service_base_[i] = sample.services[i];
}

// Idle and iowait fall on CPU hotplug and after resume; every counter is checked, not just those two.
std::string SignalMeter::system_fault(const RawSample& now) const
{
    const ProcStatSample& before = base_->stat;
    if (now.stat.online_cpus != before.online_cpus)
        return "online CPUs changed from " + std::to_string(before.online_cpus) + " to " +
               std::to_string(now.stat.online_cpus);
    for (std::size_t f = CpuTimes::User; f <= CpuTimes::Steal; ++f) {
        const auto a = before.aggregate.field[f];
        const auto b = now.stat.aggregate.field[f];
        if (b < a)
            return std::string("/proc/stat ") + kFieldNames[f] + " went backwards (" + std::to_string(a) + " -> " +
                   std::to_string(b) + ")";
    }
    if (now.stat.aggregate.total() == before.aggregate.total()) return "no CPU time elapsed in /proc/stat";
    return {};
}

// The miner's CPU use during the window. A cgroup that appeared or was recreated since the last
// tick started its counter at zero inside the window, so its whole count belongs to the window.
double SignalMeter::miner_seconds(const RawSample& now) const
{
    const auto& cur = now.miner.usage;
    if (!cur) return 0.0;
    const auto& old = base_->miner;
    if (!old || old->cgroup_id != cur->cgroup_id) return static_cast<double>(cur->usage_usec) / 1e6;
    if (cur->usage_usec < old->usage_usec) return 0.0;
    return static_cast<double>(cur->usage_usec - old->usage_usec) / 1e6;
}

ServiceLoad SignalMeter::service_load(std::size_t i, const std::optional<CgroupUsage>& now, double capacity_seconds)
{
    std::optional<CgroupUsage>& old = service_base_[i];
    ServiceLoad load;
    if (!now) {
        load.kind = ServiceLoad::Kind::Gone;
    } else if (!old || old->cgroup_id != now->cgroup_id || now->usage_usec < old->usage_usec) {
        // Started or restarted since the last tick: how much of its counter falls in this window
        // is unknown, so the window says nothing about it (no pressure, no idle credit).
        load.kind = ServiceLoad::Kind::Reset;
    } else {
        load.kind = ServiceLoad::Kind::Measured;
        const double used = static_cast<double>(now->usage_usec - old->usage_usec) / 1e6;
        load.percent = clamp_percent(used / capacity_seconds * 100.0);
    }
    old = now;
    return load;
}

Window SignalMeter::measure(const RawSample& sample)
{
    const std::size_t n = service_base_.size();
    if (!base_) {
        rebaseline(sample);
        return dropped(WindowKind::First, Duration{}, "first sample: taking baselines", n);
    }
    const Duration mono = sample.at.monotonic - base_->at.monotonic;
    const Duration boot = sample.at.boottime - base_->at.boottime;
    if (mono <= Duration{}) {
        rebaseline(sample);
        return dropped(WindowKind::CounterReset, mono, "the monotonic clock did not advance", n);
    }
    if (boot - mono > kSuspendSlack) {
        rebaseline(sample);
        return dropped(WindowKind::Suspended, mono,
                       "the machine was suspended for " + std::to_string(seconds(boot - mono)) + " s", n);
    }
    if (std::string fault = system_fault(sample); !fault.empty()) {
        rebaseline(sample);
        return dropped(WindowKind::CounterReset, mono, std::move(fault), n);
    }

    const CpuTimes& a = base_->stat.aggregate;
    const CpuTimes& b = sample.stat.aggregate;
    const double hz = ticks_per_second_;
    const double total_s = static_cast<double>(b.total() - a.total()) / hz;
    // work() is a sum of fields that each passed the backwards check, so the difference is >= 0.
    const double work_s = static_cast<double>(b.work() - a.work()) / hz;
    const double nice_s = static_cast<double>(b[CpuTimes::Nice] - a[CpuTimes::Nice]) / hz;

    // A nice-19 miner's user time lands in `nice`, its kernel time in `system`; a miner that reset
    // its threads to nice 0 lands wholly in `user`. Whatever of its use the nice column cannot hold
    // was counted as foreground work, so it is taken back out here.
    const double miner_s = miner_seconds(sample);
    const double miner_in_work = std::max(0.0, miner_s - nice_s);
    const double foreground_s = std::max(0.0, work_s - miner_in_work);

    Window w;
    w.kind = WindowKind::Valid;
    w.length = mono;
    w.system_percent = clamp_percent(foreground_s / total_s * 100.0);
    w.miner_percent = clamp_percent(miner_s / total_s * 100.0);
    const double capacity_s = seconds(mono) * std::max(1U, sample.stat.online_cpus);
    w.services.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        w.services.push_back(
            service_load(i, i < sample.services.size() ? sample.services[i] : std::nullopt, capacity_s));
    base_ = Baseline{sample.at, sample.stat, sample.miner.usage};
    return w;
}

}  // namespace xap
