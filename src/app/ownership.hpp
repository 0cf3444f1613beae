// Ownership: the daemon's freezes and the claims that record them, kept in step. A claim is
// written before the freeze and removed after the thaw, so a crash at any point leaves either no
// freeze, or a freeze with a claim that the next start (or the unit's ExecStopPost=) can undo.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "policy/controller.hpp"
#include "state/claim_store.hpp"
#include "sys/cgroup.hpp"

namespace xap {

class Ownership {
public:
    explicit Ownership(ClaimStore store) : store_(std::move(store)) {}

    // Reads the claim file. A malformed file still counts as a claim (only this daemon writes it),
    // with no identity; the returned Error says what was wrong with it.
    Status load();

    [[nodiscard]] ClaimView view() const
    {
        return {held_, claim_ ? claim_->identity : std::string(), claim_ ? claim_->invocation_id : std::string()};
    }
    [[nodiscard]] bool held() const { return held_; }
    [[nodiscard]] const std::optional<Claim>& claim() const { return claim_; }
    [[nodiscard]] const ClaimStore& store() const { return store_; }

    // Claim, then write 1 to the miner's cgroup.freeze; the claim is undone if the write fails.
    Status freeze(Cgroup& miner, const MinerState& state, std::int64_t now_unix);
    // Write 0, then drop the claim. A miner that is gone needs no thaw.
    Status thaw(Cgroup& miner);
    // Forget the claim without touching the miner (it is stale).
    Status drop();

    // Exit path: thaw if the claim is valid for the miner as it is now, drop it if stale.
    // Returns what was done, for the log.
    // `unit` overlays systemd's view of the miner when known (InvocationID, FreezerState).
    Result<std::string> release(Cgroup& miner, const std::function<void(MinerState&)>& unit = {});

private:
    ClaimStore store_;
    bool held_ = false;
    std::optional<Claim> claim_;
};

}  // namespace xap
