// Crash-safe small files: a reader sees the old content or the new, never a torn write.
#pragma once

#include <string>

#include "util/result.hpp"

namespace xap {

// Durable: the new content survives a power cut (claims, overrides). Fast: readers still never
// see a torn file, but nothing is fsynced (status and metrics, rewritten every tick).
enum class Sync { Durable, Fast };

// Writes dir/name through a temporary file: write, (fsync), rename over, (fsync the directory).
Status atomic_write_file(const std::string& dir, const std::string& name, const std::string& content,
                         Sync sync = Sync::Durable);

// Removes dir/name and makes the removal durable; a file that is already absent is fine.
Status remove_file_durably(const std::string& dir, const std::string& name);

// mkdir -p with mode 0755 for each missing component.
Status ensure_directory(const std::string& dir);

}  // namespace xap
