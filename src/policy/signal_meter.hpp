// SignalMeter turns cumulative counters into the two signals of one window:
// system-wide foreground CPU and per-service CPU, both in percent of total capacity.
// It owns the baselines, so every counter fault (a counter that goes backwards, a
// recreated cgroup, a CPU hotplug, a suspend) is detected and answered in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/sample.hpp"

namespace xap {

enum class WindowKind {
    Valid,
    First,         // no baseline yet
    CounterReset,  // a /proc/stat counter went backwards or the CPU count changed
    Suspended,     // the machine slept during the window
    Unmeasured,    // an out-of-schedule decision (a unit changed, an override): nothing was measured
};

struct ServiceLoad {
    enum class Kind {
        Measured,
        Gone,   // not running: uses nothing
        Reset,  // restarted during the window: its use is unknown for this window
    };
    Kind kind = Kind::Gone;
    double percent = 0.0;  // of total capacity, 0..100; 0 unless Measured
};

struct Window {
    WindowKind kind = WindowKind::First;
    Duration length{};
    double system_percent = 0.0;  // foreground work, the miner's own non-nice work removed; 0..100
    double miner_percent = 0.0;   // the miner's whole use, for the record
    std::vector<ServiceLoad> services;
    std::string dropped_because;  // empty unless kind != Valid

    [[nodiscard]] bool valid() const { return kind == WindowKind::Valid; }
};

class SignalMeter {
public:
    // clock_ticks_per_second: USER_HZ of /proc/stat (sysconf(_SC_CLK_TCK), 100 on Linux).
    SignalMeter(std::size_t service_count, unsigned clock_ticks_per_second);

    Window measure(const RawSample& sample);

private:
    struct Baseline {
        Instant at;
        ProcStatSample stat;
        std::optional<CgroupUsage> miner;
    };

    [[nodiscard]] std::string system_fault(const RawSample& now) const;
    [[nodiscard]] double miner_seconds(const RawSample& now) const;
    ServiceLoad service_load(std::size_t i, const std::optional<CgroupUsage>& now, double capacity_seconds);
    void rebaseline(const RawSample& sample);

    unsigned ticks_per_second_;
    std::optional<Baseline> base_;
    std::vector<std::optional<CgroupUsage>> service_base_;
};

// Suspend shows as BOOTTIME advancing further than MONOTONIC; this much slack absorbs clock jitter.
inline constexpr Duration kSuspendSlack = std::chrono::milliseconds(500);

}  // namespace xap
