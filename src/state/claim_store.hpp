// ClaimStore: "this freeze is ours", persisted in the state directory so that a restarted daemon
// knows which freeze it may undo. Written before the freeze takes effect, removed after the thaw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "util/result.hpp"

namespace xap {

struct Claim {
    std::string miner;          // the cgroup path (display form) the freeze was written to
    std::string identity;       // which cgroup instance: "cgroup-id:N"; never empty
    std::string invocation_id;  // systemd's InvocationID of the miner at the freeze, when known
    std::int64_t since_unix = 0;
};

class ClaimStore {
public:
    explicit ClaimStore(std::string state_dir);

    // nullopt: no claim. An Error means a file is there but unreadable or malformed; its
    // existence still says that a freeze was made by this daemon.
    [[nodiscard]] Result<std::optional<Claim>> load() const;
    [[nodiscard]] Status save(const Claim& claim) const;
    [[nodiscard]] Status clear() const;

    [[nodiscard]] const std::string& dir() const { return dir_; }
    [[nodiscard]] std::string path() const { return dir_ + "/" + kFileName; }

    static constexpr const char* kFileName = "claim.json";

private:
    std::string dir_;
};

}  // namespace xap
