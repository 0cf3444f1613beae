// Vocabulary of one tick: what the I/O layer read, as plain values.
// Nothing here touches a file, a clock or a bus; the policy consumes these.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xap {

using Duration = std::chrono::nanoseconds;

// One reading of the clocks, taken once per tick by the event loop.
// BOOTTIME keeps running across suspend and MONOTONIC does not: the difference reveals a suspend.
struct Instant {
    Duration monotonic{};
    Duration boottime{};
};

// The aggregate `cpu` line of /proc/stat, in USER_HZ ticks.
// Kernels print 4 to 10 numbers (older ones fewer); absent fields read as 0.
struct CpuTimes {
    enum Field : std::size_t { User, Nice, System, Idle, Iowait, Irq, Softirq, Steal, Guest, GuestNice, Count };
    std::array<std::uint64_t, Count> field{};

    [[nodiscard]] std::uint64_t operator[](Field f) const { return field[f]; }
    // Foreground work: everything a non-nice task or the kernel spends. Nice time is the miner's lane.
    [[nodiscard]] std::uint64_t work() const { return field[User] + field[System] + field[Irq] + field[Softirq]; }
    // user..steal. guest and guest_nice are already counted inside user and nice: never add them.
    [[nodiscard]] std::uint64_t total() const
    {
        std::uint64_t sum = 0;
        for (std::size_t i = User; i <= Steal; ++i) sum += field[i];
        return sum;
    }
};

struct ProcStatSample {
    CpuTimes aggregate;
    unsigned online_cpus = 0;  // the number of cpuN lines: only online CPUs are listed
};

// A cgroup's cumulative CPU use, tagged with the cgroup's identity (its inode number):
// a recreated cgroup has a new id and a counter that started again from zero.
struct CgroupUsage {
    std::uint64_t cgroup_id = 0;
    std::uint64_t usage_usec = 0;
};

// The miner as read this tick. Without systemd, "active" is always true.
struct MinerState {
    bool present = false;           // its cgroup exists
    bool populated = false;         // it has processes (cgroup.events populated 1)
    bool active = true;             // its unit is active (not activating, deactivating, reloading, stopped)
    bool stopping = false;          // its unit is deactivating or reloading: a freeze would block its handlers
    bool freeze_requested = false;  // its own cgroup.freeze reads 1
    bool frozen = false;            // cgroup.events frozen 1: effective, possibly from an ancestor
    std::string identity;           // the cgroup instance a claim is keyed on: "cgroup-id:N"
    std::string invocation_id;      // systemd's InvocationID of the unit, when known
    std::string systemd_freezer;    // systemd's FreezerState ("running" unless systemd froze it); "" without systemd
    std::optional<CgroupUsage> usage;
    std::string not_running_reason;  // why it is not freezable, for the log

    [[nodiscard]] bool running() const { return present && populated && active && !stopping; }
    // systemd froze the unit itself (`systemctl freeze`): its freeze, never ours to undo.
    [[nodiscard]] bool frozen_by_systemd() const { return !systemd_freezer.empty() && systemd_freezer != "running"; }
};

struct RawSample {
    Instant at;
    ProcStatSample stat;
    MinerState miner;
    // One entry per watched service, in config order; nullopt: not measurable now (stopped, no cgroup).
    std::vector<std::optional<CgroupUsage>> services;
};

}  // namespace xap
