// Cgroup: one cgroup v2 directory, read every tick through kept file descriptors.
// Its identity is the directory's inode number: when the cgroup is removed its files answer
// ENODEV, the handle reopens the path, and a recreated cgroup shows up with a new id.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "policy/sample.hpp"
#include "sys/cgroup_fs.hpp"
#include "sys/fd.hpp"
#include "sys/parsers.hpp"

namespace xap {

class Cgroup {
public:
    Cgroup(std::shared_ptr<const CgroupFs> fs, std::string rel_path);

    // nullopt: the cgroup does not exist (now). Errors are faults worth a log line (EACCES, bad text).
    Result<std::optional<CgroupUsage>> usage();
    Result<std::optional<CgroupEvents>> events();
    Result<std::optional<bool>> freeze_requested();  // cgroup.freeze

    // Writes cgroup.freeze of the instance this handle has open, never of a namesake created
    // since: a freeze must land on the instance the claim names.
    Status request_freeze(bool frozen);

    // Follows a cgroup that moved (a unit's ControlGroup changed); "" means "no cgroup now".
    void set_path(const std::string& rel_path);

    [[nodiscard]] std::optional<std::uint64_t> id() const { return id_; }
    [[nodiscard]] const std::string& rel_path() const { return rel_; }
    [[nodiscard]] std::string display() const { return fs_->display(rel_); }
    [[nodiscard]] std::string display(const char* file) const { return fs_->display(rel_ + "/" + file); }

private:
    enum Slot { CpuStat, Events, Freeze, SlotCount };

    Result<std::optional<std::string_view>> read(Slot slot);
    Result<bool> open_dir();  // false: absent
    void close();

    std::shared_ptr<const CgroupFs> fs_;
    std::string rel_;
    UniqueFd dir_;
    std::optional<std::uint64_t> id_;
    KernelFile files_[SlotCount];
};

}  // namespace xap
