// Sampler: reads everything one tick needs (/proc/stat, the miner's cgroup, each watched cgroup)
// into a RawSample. It only reads; the miner's Cgroup handle is lent to the freezer for writes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy/sample.hpp"
#include "sys/cgroup.hpp"
#include "sys/fd.hpp"

namespace xap {

struct Reading {
    RawSample sample;
    // Faults that did not stop the tick: a watched cgroup that could not be read counts as not
    // running this window. One entry per service, empty when fine; logged when it changes.
    std::vector<std::string> service_problems;
};

// The miner as its cgroup shows it now. Absent is a value; an Error is an unreadable file.
Result<MinerState> read_miner(Cgroup& miner);

class Sampler {
public:
    // proc_stat_path: normally /proc/stat; miner and watched: paths relative to the cgroup mount.
    Sampler(std::string proc_stat_path, std::shared_ptr<const CgroupFs> fs, const std::string& miner,
            const std::vector<std::string>& watched);

    // Opens /proc/stat and checks that it has an aggregate cpu line: a start-up error otherwise.
    Status open();
    // An Error means this tick cannot be decided on (unreadable /proc/stat or miner files).
    Result<Reading> read(const Instant& now);

    [[nodiscard]] Cgroup& miner() { return miner_; }
    [[nodiscard]] Cgroup& watched(std::size_t i) { return watched_.at(i); }
    [[nodiscard]] std::size_t watched_count() const { return watched_.size(); }

private:
    Result<ProcStatSample> read_proc_stat();

    std::string proc_stat_path_;
    KernelFile proc_stat_;
    Cgroup miner_;
    std::vector<Cgroup> watched_;
};

}  // namespace xap
