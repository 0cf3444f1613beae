// CgroupFs: the cgroup v2 hierarchy this daemon works in, found from mountinfo (unified layout
// at /sys/fs/cgroup, hybrid layout at /sys/fs/cgroup/unified) or given as a directory (tests).
#pragma once

#include <memory>
#include <string>

#include "sys/fd.hpp"
#include "util/result.hpp"

namespace xap {

class CgroupFs {
public:
    // Reads <proc_root>/self/mountinfo and opens the first cgroup2 mount; fails with a message
    // that says what was found instead when there is none or it is not usable.
    static Result<std::shared_ptr<CgroupFs>> discover(const std::string& proc_root);
    // A given directory, taken as the root of a cgroup v2 tree (a real mount or a test fixture).
    static Result<std::shared_ptr<CgroupFs>> at(const std::string& mount_point);

    [[nodiscard]] int dirfd() const { return fd_.get(); }
    [[nodiscard]] const std::string& mount_point() const { return mount_point_; }
    // The part of the hierarchy the mount shows: "/" on the host; something else inside a
    // container or a private cgroup namespace, where other cgroups are invisible.
    [[nodiscard]] const std::string& view_root() const { return view_root_; }
    // "system.slice/xmrig.service" -> "/sys/fs/cgroup/system.slice/xmrig.service", for messages.
    [[nodiscard]] std::string display(const std::string& rel) const;

    CgroupFs(UniqueFd fd, std::string mount_point, std::string view_root)
        : fd_(std::move(fd)), mount_point_(std::move(mount_point)), view_root_(std::move(view_root))
    {
    }

private:
    UniqueFd fd_;
    std::string mount_point_;
    std::string view_root_;
};

// Config paths are relative to the mount; "/a/b", "a/b/" and "a//b" all mean "a/b". The root
// itself ("" or "/") and ".." components are rejected: the daemon never acts on the root cgroup.
Result<std::string> normalize_cgroup_path(const std::string& path);

}  // namespace xap
