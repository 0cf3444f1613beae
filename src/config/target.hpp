// Target: what the config names as the miner or a watched service, a systemd unit or a cgroup path.
#pragma once

#include <string>

#include "util/result.hpp"

namespace xap {

struct Target {
    enum class Kind { Unit, CgroupPath };
    Kind kind = Kind::Unit;
    std::string name;  // "xmrig.service", or a normalized cgroup path without leading "/"

    [[nodiscard]] bool is_unit() const { return kind == Kind::Unit; }
    // As the user wrote it: "xmrig.service" or "/sandbox/miner".
    [[nodiscard]] std::string display() const { return is_unit() ? name : "/" + name; }
    bool operator==(const Target&) const = default;
};

// "xmrig.service" -> a unit; "/a/b" -> a cgroup path relative to the cgroup v2 mount.
Result<Target> parse_target(const std::string& text);

// Where systemd puts a unit's cgroup by default, for hosts where the bus is not asked:
// "xmrig.service" -> "system.slice/xmrig.service", "a-b.slice" -> "a.slice/a-b.slice".
Result<std::string> conventional_cgroup_path(const std::string& unit);

// The cgroup path a target stands for without asking systemd.
Result<std::string> default_cgroup_path(const Target& t);

// True when `outer` is `inner` or one of its ancestors ("a" contains "a/b", not "ab").
bool cgroup_contains(const std::string& outer, const std::string& inner);

}  // namespace xap
