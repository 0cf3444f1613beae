// StatusReport: what the daemon is doing and why, kept current in the state directory
// (status.json) for `xmrig-auto-pause status`, in sd_notify STATUS=, and as Prometheus metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace xap {

struct Counters {
    std::uint64_t freezes = 0;
    std::uint64_t thaws = 0;
    std::uint64_t dropped_windows = 0;
    double frozen_seconds = 0;  // time the miner spent under our freeze
};

struct StatusReport {
    // "running", "frozen" (by us), "frozen-by-someone-else", "miner-inactive", "stopped"; set before
    // the first write, so the initial value is never published
    std::string state = "stopped";
    std::int64_t since_unix = 0;
    std::string reason;  // of the last decision, or why nothing can be done
    std::int64_t reason_unix = 0;
    std::string miner;
    double system_percent = 0;
    double miner_percent = 0;
    std::vector<std::pair<std::string, std::optional<double>>> watched;  // nullopt: not measurable now
    Counters counters;
    std::string manual = "auto";
    std::optional<std::int64_t> manual_until;
    std::int64_t pid = 0;
    std::int64_t updated_unix = 0;
};

// "2026-12-03 18:03:16" in local time.
std::string clock_time(std::int64_t unix);

nlohmann::json to_json(const StatusReport& s);
StatusReport status_from_json(const nlohmann::json& j);  // throws nlohmann::json::exception

// "frozen since 12:03:04: system CPU 62.5% > stop 15.0%", for sd_notify STATUS= and logs.
std::string one_line(const StatusReport& s);
// The `status` command's text.
std::string describe_status(const StatusReport& s, std::int64_t now_unix, bool daemon_alive);
// Prometheus text exposition format (node_exporter textfile collector).
std::string prometheus_text(const StatusReport& s);

}  // namespace xap

#include "app/logging.hpp"
#include "policy/controller.hpp"
#include "policy/signal_meter.hpp"
#include "util/result.hpp"

namespace xap {

// Keeps the StatusReport current and publishes it: status.json in the state directory (on every
// change, else every kStatusRefreshSeconds: it is not fsynced, readers never see a torn file), the
// metrics file every tick when configured, and sd_notify STATUS= when the one-line form changes.
// Fresh signal values are written this often when nothing else changed. Each write costs about as
// much CPU as a tick (JSON, a rename, and the inotify wake-up it gives the daemon itself): once a
// second, it was a fifth of the daemon's idle CPU time.
inline constexpr std::int64_t kStatusRefreshSeconds = 5;

class StatusKeeper {
public:
    StatusKeeper(std::string state_dir, std::string metrics_file, std::string miner,
                 const std::vector<std::string>& watched);

    void on_window(const Window& w);
    void on_state(const std::string& state, const std::string& reason, std::int64_t now_unix);
    void on_decision(const Decision& d, std::int64_t now_unix);
    void add_frozen(Duration d) { report_.counters.frozen_seconds += std::chrono::duration<double>(d).count(); }
    void set_manual(Manual m, std::optional<std::int64_t> until);
    void publish(std::int64_t now_unix);

    [[nodiscard]] const StatusReport& report() const { return report_; }

private:
    // A file that cannot be written (a missing textfile directory, a full disk) is logged when the
    // problem starts, changes or ends, not five times a second.
    static void report_write(std::string& last, const Status& s, const char* what)
    {
        log_problem_change(last, s ? std::string() : s.error().message, spdlog::level::warn, what, "written again");
    }

    std::string state_dir_;
    std::string metrics_file_;
    std::string status_problem_;  // the last write error reported, empty while writes succeed
    std::string metrics_problem_;
    StatusReport report_;
    bool dirty_ = true;
    std::int64_t written_unix_ = 0;
    std::string notified_;
};

}  // namespace xap
