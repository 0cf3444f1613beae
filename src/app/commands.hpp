// The commands besides `run`: status, pause/resume/auto, replay. Each returns an exit code.
#pragma once

#include <optional>
#include <string>

#include "app/daemon.hpp"
#include "config/config.hpp"

namespace xap {

int status_command(const Paths& paths, bool json);
// mode Auto clears the override; `for_` bounds a pause or resume in time.
int override_command(const Paths& paths, Manual mode, std::optional<Duration> for_);
int replay_command(const Config& config, const std::string& file);

}  // namespace xap
