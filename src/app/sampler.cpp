#include "app/sampler.hpp"

#include <fcntl.h>

#include "sys/parsers.hpp"

namespace xap {

Sampler::Sampler(std::string proc_stat_path, std::shared_ptr<const CgroupFs> fs, const std::string& miner,
                 const std::vector<std::string>& watched)
    : proc_stat_path_(std::move(proc_stat_path)), miner_(fs, miner)
{
    watched_.reserve(watched.size());
    for (const auto& w : watched) watched_.emplace_back(fs, w);
}

Status Sampler::open()
{
    auto fd = open_at(AT_FDCWD, proc_stat_path_, O_RDONLY, proc_stat_path_);
    if (!fd) return fd.error();
    proc_stat_ = KernelFile(std::move(fd).value(), proc_stat_path_);
    auto first = read_proc_stat();
    if (!first) return first.error();
    return Ok{};
}

Result<ProcStatSample> Sampler::read_proc_stat()
{
    auto text = proc_stat_.read();
    if (!text) return text.error();
    return parse_proc_stat(*text, proc_stat_path_);
}

Result<MinerState> read_miner(Cgroup& miner_)
{
    MinerState m;
    auto events = miner_.events();
    if (!events) return events.error();
    if (!*events) {
        m.not_running_reason =
            miner_.rel_path().empty() ? "it has no cgroup now" : "its cgroup " + miner_.display() + " does not exist";
        return m;
    }
    auto freeze = miner_.freeze_requested();
    if (!freeze) return freeze.error();
    auto usage = miner_.usage();
    if (!usage) return usage.error();
    // The cgroup may vanish between the reads: then it is absent for this tick.
    if (!*freeze || !*usage) {
        m.not_running_reason = "its cgroup " + miner_.display() + " was removed";
        return m;
    }
    m.present = true;
    m.populated = (*events)->populated;
    m.frozen = (*events)->frozen;
    m.freeze_requested = **freeze;
    m.usage = **usage;
    m.identity = "cgroup-id:" + std::to_string((*usage)->cgroup_id);
    if (!m.populated) m.not_running_reason = "its cgroup " + miner_.display() + " has no processes";
    return m;
}

Result<Reading> Sampler::read(const Instant& now)
{
    Reading r;
    r.sample.at = now;
    auto stat = read_proc_stat();
    if (!stat) return stat.error();
    r.sample.stat = *stat;
    auto miner = read_miner(miner_);
    if (!miner) return miner.error();
    r.sample.miner = std::move(miner).value();
    r.sample.services.reserve(watched_.size());
    r.service_problems.resize(watched_.size());
    for (std::size_t i = 0; i < watched_.size(); ++i) {
        auto usage = watched_[i].usage();
        if (usage) {
            r.sample.services.push_back(*usage);
        } else {
            r.sample.services.emplace_back();
            r.service_problems[i] = usage.error().message;
        }
    }
    return r;
}

}  // namespace xap
