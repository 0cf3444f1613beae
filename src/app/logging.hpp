// Logging set-up: spdlog to stderr. Under systemd, stderr is the journal, which stamps every
// line itself: there the lines carry a "<N>" priority prefix (sd-daemon(3)) and no timestamp.
#pragma once

#include <string>

#include <spdlog/common.h>

namespace xap {

// level: "debug", "info", "warning" or "error".
void setup_logging(const std::string& level);

// True when stderr is connected to the journal ($JOURNAL_STREAM names its device and inode).
bool stderr_is_journal();

// A problem seen on every tick is logged when it starts, changes or ends, never again while it
// lasts: "<what>: <problem>" at `level`, then "<what>: <recovered>" at info. `last` keeps the
// problem reported (empty: none).
void log_problem_change(std::string& last, const std::string& now, spdlog::level::level_enum level,
                        const std::string& what, const char* recovered);

}  // namespace xap
