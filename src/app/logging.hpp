// Logging set-up: spdlog to stderr. Under systemd, stderr is the journal, which stamps every
// line itself: there the lines carry a "<N>" priority prefix (sd-daemon(3)) and no timestamp.
#pragma once

#include <string>

namespace xap {

// level: "debug", "info", "warning" or "error".
void setup_logging(const std::string& level);

// True when stderr is connected to the journal ($JOURNAL_STREAM names its device and inode).
bool stderr_is_journal();

}  // namespace xap
