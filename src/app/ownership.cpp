#include "app/ownership.hpp"

#include "app/sampler.hpp"

namespace xap {

Status Ownership::load()
{
    auto loaded = store_.load();
    if (!loaded) {
        held_ = true;
        claim_.reset();
        return loaded.error();
    }
    claim_ = *loaded;
    held_ = claim_.has_value();
    return Ok{};
}

Status Ownership::freeze(Cgroup& miner, const MinerState& state, std::int64_t now_unix)
{
    Claim c{miner.display(), state.identity, state.invocation_id, now_unix};
    if (auto s = store_.save(c); !s)
        return Error{s.error().errno_value, "not freezing: cannot record the claim: " + s.error().message};
    held_ = true;
    claim_ = c;
    if (auto s = miner.request_freeze(true); !s) {
        auto undo = drop();
        return Error{s.error().errno_value,
                     s.error().message +
                         (undo ? "; claim withdrawn" : "; withdrawing the claim failed too: " + undo.error().message)};
    }
    return Ok{};
}

Status Ownership::thaw(Cgroup& miner)
{
    if (auto s = miner.request_freeze(false); !s && !s.error().is_gone()) return s;
    return drop();
}

Status Ownership::drop()
{
    if (auto s = store_.clear(); !s) return s;
    held_ = false;
    claim_.reset();
    return Ok{};
}

Result<std::string> Ownership::release(Cgroup& miner, const std::function<void(MinerState&)>& unit)
{
    if (!held_) return std::string("no claim held; nothing to release");
    auto state = read_miner(miner);
    if (!state) return state.error();
    if (unit) unit(state.value());
    if (auto stale = stale_claim(*state, view())) {
        if (auto s = drop(); !s) return s.error();
        return "dropped a stale claim (" + *stale + "); the miner was left as it is";
    }
    if (auto s = thaw(miner); !s) return s.error();
    return "thawed " + miner.display() + " (our freeze)";
}

}  // namespace xap
