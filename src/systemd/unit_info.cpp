#include "systemd/unit_info.hpp"

namespace xap {

std::string unit_type_interface(const std::string& unit)
{
    const auto dot = unit.rfind('.');
    std::string type = dot == std::string::npos ? "" : unit.substr(dot + 1);
    if (type.empty()) return "org.freedesktop.systemd1.Unit";
    type[0] = static_cast<char>(type[0] - 'a' + 'A');
    return "org.freedesktop.systemd1." + type;
}

std::string unit_cgroup_path(const UnitInfo& info)
{
    std::string p = info.control_group;
    while (!p.empty() && p.front() == '/') p.erase(p.begin());
    return p;
}

void apply_unit_state(MinerState& miner, const std::string& unit, const UnitInfo& info)
{
    miner.invocation_id = info.invocation_id;
    miner.systemd_freezer = info.freezer_state;
    const std::string& state = info.active_state;
    miner.active = state == "active";
    // A frozen miner cannot run its SIGTERM or SIGHUP handler: a stop or reload would hang until
    // systemd's timeout. These states are the cue to give back the CPU at once.
    miner.stopping = state == "deactivating" || state == "reloading";
    if (!info.exists())
        miner.not_running_reason = unit + " does not exist (LoadState=" +
                                   (info.load_state.empty() ? std::string("unknown") : info.load_state) + ")";
    else if (!miner.active)
        miner.not_running_reason = unit + " is " + state + (info.sub_state.empty() ? "" : " (" + info.sub_state + ")");
}

}  // namespace xap
