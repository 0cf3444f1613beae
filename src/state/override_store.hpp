// OverrideStore: a person's manual pause or resume, persisted with its expiry in the state
// directory so that it survives daemon restarts. The CLI writes it; the daemon watches it (inotify).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "policy/controller.hpp"
#include "util/result.hpp"

namespace xap {

struct Override {
    Manual mode = Manual::Auto;
    std::optional<std::int64_t> until_unix;  // none: until `auto`
    std::int64_t set_unix = 0;
};

std::string to_string(Manual m);

// The mode in force at `now_unix`: an expired override is Auto.
Manual active_mode(const Override& o, std::int64_t now_unix);

class OverrideStore {
public:
    explicit OverrideStore(std::string state_dir) : dir_(std::move(state_dir)) {}

    // Absent file: Auto. A malformed file is an Error naming it and its content.
    [[nodiscard]] Result<Override> load() const;
    [[nodiscard]] Status save(const Override& o) const;
    [[nodiscard]] Status clear() const;
    [[nodiscard]] std::string path() const { return dir_ + "/" + kFileName; }

    static constexpr const char* kFileName = "override.json";

private:
    std::string dir_;
};

}  // namespace xap
