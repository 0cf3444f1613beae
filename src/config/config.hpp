// Config: the daemon's JSON configuration, typed and validated once at start-up.
// Every key is optional; the built-in defaults are the prototype's (grace 15 s, stop 15 %,
// resume 5 %, miner xmrig.service, nothing watched) plus a poll interval chosen from measurements.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "config/target.hpp"
#include "policy/controller.hpp"

namespace xap {

inline constexpr const char* kDefaultConfigPath = "/etc/xmrig-auto-pause/config.json";

struct WatchedService {
    Target target;
    double threshold_percent = 0.0;  // of total capacity
    std::string threshold_text;      // as written, for logs: "0.5 cores"
};

// The policy's defaults are the single source of the built-in ones.
inline const PolicySettings kDefaultPolicy{};

struct Config {
    Duration poll_interval = kDefaultPolicy.poll_interval;
    Duration grace_period = kDefaultPolicy.grace_period;
    Duration grace_period_max = kDefaultPolicy.grace_period_max;
    Duration stop_debounce = kDefaultPolicy.stop_debounce;
    double stop_percent = kDefaultPolicy.stop_percent;
    double resume_percent = kDefaultPolicy.resume_percent;
    Target miner{Target::Kind::Unit, "xmrig.service"};
    std::vector<WatchedService> watched;
    std::string log_level = "info";
    std::string metrics_file;  // Prometheus text file, rewritten each tick; empty: none

    [[nodiscard]] PolicySettings policy() const;
};

// All problems found in one file, one per line, each naming its JSON path (e.g. /watched/x.service).
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// online_cpus converts thresholds written in cores ("1.5 cores" = 150 / online_cpus percent).
Config parse_config(const std::string& text, const std::string& source, unsigned online_cpus);

// Loads a file. When the file is missing and missing_is_default is set (the default path was not
// overridden), the built-in defaults apply.
Config load_config(const std::string& path, bool missing_is_default, unsigned online_cpus);

// "200ms", "15s", "2min", "1h", "15" (seconds): the duration forms of the config and the CLI.
Result<Duration> parse_duration(const std::string& text);

// "debug", "info", "warning" or "error": the levels the config file and --log-level accept.
bool is_log_level(const std::string& level);

// Human-readable one-line summary for the start-up log.
std::string describe(const Config& c);

}  // namespace xap
