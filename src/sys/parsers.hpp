// One pure parser per kernel text format. Each takes the file's text and the path it came from
// (for error messages) and returns a value or an Error naming the path and the offending text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/sample.hpp"
#include "util/result.hpp"

namespace xap {

// /proc/stat:
//   cpu  4705 150 1120 16250 520 0 24 0 0 0
//   cpu0 2352 75 560 8125 260 0 12 0 0 0
// The aggregate line takes 4 to 10 numbers (more are ignored); cpuN lines count online CPUs.
Result<ProcStatSample> parse_proc_stat(std::string_view text, std::string_view path);

// cpu.stat:
//   usage_usec 123456
//   user_usec 100000
//   system_usec 23456
Result<std::uint64_t> parse_cpu_stat_usage(std::string_view text, std::string_view path);

// cgroup.events:
//   populated 1
//   frozen 0
struct CgroupEvents {
    bool populated = false;
    bool frozen = false;
};
Result<CgroupEvents> parse_cgroup_events(std::string_view text, std::string_view path);

// cgroup.freeze: "0\n" or "1\n"
Result<bool> parse_cgroup_freeze(std::string_view text, std::string_view path);

// /proc/self/mountinfo:
//   36 25 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
// Fields up to the " - " separator are positional; mount points escape space, tab, newline and
// backslash as octal (\040).
struct MountEntry {
    std::string root;         // the part of the filesystem seen at the mount point ("/" unless a sub-view)
    std::string mount_point;  // unescaped
    std::string fstype;
};
Result<std::vector<MountEntry>> parse_mountinfo(std::string_view text, std::string_view path);

}  // namespace xap
