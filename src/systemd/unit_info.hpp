// UnitInfo: what systemd says about a unit, and the pure rules that turn it into the miner's state.
#pragma once

#include <cstdint>
#include <string>

#include "policy/sample.hpp"

namespace xap {

struct UnitInfo {
    std::string load_state;    // "loaded", "not-found", "masked", ...
    std::string active_state;  // "active", "activating", "deactivating", "reloading", "inactive", "failed"
    std::string sub_state;
    std::string freezer_state;  // "running", "freezing", "frozen", "thawing" (empty before systemd 246)
    std::string control_group;  // "/system.slice/xmrig.service"; empty when the unit has no cgroup now
    std::string invocation_id;  // 32 hex digits; empty when the unit is not running
    std::uint32_t main_pid = 0;

    [[nodiscard]] bool exists() const { return !load_state.empty() && load_state != "not-found"; }
};

// The D-Bus interface that carries ControlGroup for a unit of this name's type.
std::string unit_type_interface(const std::string& unit);

// The cgroup path relative to the mount, or "" when the unit has no cgroup now. An empty
// ControlGroup means "not measurable now", never the root cgroup.
std::string unit_cgroup_path(const UnitInfo& info);

// Overlays systemd's view on the miner as its cgroup showed it: active states, stop in progress,
// systemd's own freezer, and the invocation the claim is keyed on.
void apply_unit_state(MinerState& miner, const std::string& unit, const UnitInfo& info);

}  // namespace xap
