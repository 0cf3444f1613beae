// Argument parsing and exit codes; the commands live in app/.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/daemon.hpp"
#include "app/logging.hpp"
#include "config/config.hpp"

#ifndef XAP_VERSION
#define XAP_VERSION "unknown"
#endif

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 64;   // EX_USAGE
constexpr int kExitConfig = 78;  // EX_CONFIG

constexpr const char* kUsage = R"(Usage: xmrig-auto-pause [OPTIONS] [COMMAND]

Freezes a CPU miner's cgroup (cgroup v2 cgroup.freeze) while foreground work needs the CPU,
and thaws it once the machine has been quiet for a grace period.

Commands:
  run [--record FILE] [--duration DURATION]
                          run the daemon (the default), until SIGTERM/SIGINT or for DURATION;
                          --record appends every tick's raw samples and decisions to FILE as
                          JSON lines
  check-config            validate the configuration, print the effective settings, and exit
  status [--json]         what the daemon is doing and why, from its state directory
  pause [--for DURATION]  freeze the miner now, whatever the load (until `auto` or DURATION)
  resume [--for DURATION] keep the miner running, whatever the load
  auto                    clear a manual pause or resume
  record [--output FILE] [--duration DURATION]
                          sample like the daemon, without acting, as JSON lines (default stdout)
  replay FILE             run the policy over a recording with this configuration; print each
                          decision and a summary (freezes, thaws, time frozen, transitions/hour)
  release                 thaw the miner if the state directory holds this daemon's valid claim on
                          it, then delete the claim (for ExecStopPost=; never thaws a foreign freeze)

Options:
  -c, --config PATH     JSON configuration (default /etc/xmrig-auto-pause/config.json;
                        built-in defaults when that default file does not exist)
      --check-config    same as the check-config command
      --state-dir DIR   where the claim, the override and the status are kept
                        (default $STATE_DIRECTORY, else /var/lib/xmrig-auto-pause)
      --cgroup-root DIR use this cgroup v2 directory instead of the mount found in mountinfo
      --proc-root DIR   read /proc from DIR (tests)
      --log-level LVL   debug, info, warning or error (overrides the configuration)
  -h, --help            this text
      --version         the version

Durations: "90s", "30min", "2h", or seconds.
Exit status: 0 success, 64 usage error, 78 bad configuration, 1 other failures.
See xmrig-auto-pause(8) and xmrig-auto-pause.json(5).
)";

struct Args {
    std::string command = "run";
    std::string config = xap::kDefaultConfigPath;
    bool config_given = false;
    std::optional<std::string> log_level;
    xap::Paths paths;
    xap::RunOptions run;
    std::optional<xap::Duration> for_;
    std::optional<xap::Duration> duration;
    std::string replay_file;
    bool json = false;
};

std::string default_state_dir()
{
    // systemd passes StateDirectory= as a colon-separated list; ours is the first.
    if (const char* env = std::getenv("STATE_DIRECTORY"); env && *env) {
        std::string s(env);
        return s.substr(0, s.find(':'));
    }
    return xap::kDefaultStateDir;
}

bool is_command(const std::string& s)
{
    for (const char* c : {"run", "check-config", "status", "pause", "resume", "auto", "record", "replay", "release"})
        if (s == c) return true;
    return false;
}

int usage_error(const std::string& what)
{
    fmt::print(stderr, "xmrig-auto-pause: {} (see --help)\n", what);
    return kExitUsage;
}

// Returns an exit code when parsing ends the program (help, version, usage error).
std::optional<int> parse_args(int argc, char** argv, Args& a)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    a.paths.state_dir = default_state_dir();
    bool command_seen = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& s = args[i];
        std::string v;
        auto value = [&]() {
            if (i + 1 >= args.size()) return false;
            v = args[++i];
            return true;
        };
        auto duration = [&](std::optional<xap::Duration>& out) {
            if (!value()) return false;
            auto d = xap::parse_duration(v);
            if (!d) return false;
            out = *d;
            return true;
        };
        if (s == "-h" || s == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (s == "--version") {
            std::puts("xmrig-auto-pause " XAP_VERSION);
            return 0;
        }
        bool ok = true;
        if (s == "-c" || s == "--config")
            ok = value() && (a.config = v, a.config_given = true);
        else if (s == "--check-config")
            a.command = "check-config";
        else if (s == "--state-dir")
            ok = value() && (a.paths.state_dir = v, true);
        else if (s == "--cgroup-root")
            ok = value() && (a.paths.cgroup_root = v, true);
        else if (s == "--proc-root")
            ok = value() && (a.paths.proc_root = v, true);
        else if (s == "--log-level")
            ok = value() && (a.log_level = v, true);
        else if (s == "--record" || s == "--output")
            ok = value() && (a.run.record_path = v, true);
        else if (s == "--for")
            ok = duration(a.for_);
        else if (s == "--duration")
            ok = duration(a.duration);
        else if (s == "--json")
            a.json = true;
        else if (!s.starts_with("-") && !command_seen && is_command(s)) {
            a.command = s;
            command_seen = true;
        } else if (!s.starts_with("-") && a.command == "replay" && a.replay_file.empty()) {
            a.replay_file = s;
        } else {
            return usage_error("unknown argument \"" + s + "\"");
        }
        if (!ok) return usage_error(s + " needs a value" + (s == "--for" || s == "--duration" ? " (a duration)" : ""));
    }
    if (a.command == "replay" && a.replay_file.empty()) return usage_error("replay needs a recording FILE");
    if (a.log_level && !xap::is_log_level(*a.log_level))
        return usage_error("--log-level \"" + *a.log_level + "\": expected debug, info, warning or error");
    // A flag the command does not use is a mistake worth naming, not something to ignore.
    const bool samples = a.command == "run" || a.command == "record";
    if (a.for_ && a.command != "pause" && a.command != "resume") return usage_error("--for goes with pause or resume");
    if (a.duration && !samples) return usage_error("--duration goes with run or record");
    if (!a.run.record_path.empty() && !samples) return usage_error("--record/--output go with run or record");
    if (a.json && a.command != "status") return usage_error("--json goes with status");
    if (a.command == "record" && a.run.record_path.empty()) a.run.record_path = "-";
    a.run.observe_only = a.command == "record";
    if (a.duration) a.run.duration = *a.duration;
    return std::nullopt;
}

int run_daemon(const Args& a, const xap::Config& config)
{
    xap::Daemon daemon(config, a.paths, a.run);
    if (auto s = daemon.start(); !s) {
        spdlog::critical("cannot start: {}", s.error().message);
        return kExitRuntime;
    }
    return daemon.run();
}

int run_command(const Args& a, const xap::Config& config)
{
    if (a.command == "check-config") {
        fmt::print("{}: OK\n{}\n", a.config_given ? a.config : a.config + " (or built-in defaults)",
                   xap::describe(config));
        return 0;
    }
    if (a.command == "replay") return xap::replay_command(config, a.replay_file);
    return run_daemon(a, config);
}

// ExecStopPost= runs this after every end of the daemon, also one caused by a configuration an admin
// broke meanwhile: that must not keep the miner frozen, so a bad configuration is reported and the
// claim's own record of the frozen cgroup is used.
int release_command(const Args& a, const std::optional<xap::Config>& config)
{
    auto what = xap::release_claim(config ? &*config : nullptr, a.paths);
    if (!what) {
        spdlog::error("release: {}", what.error().message);
        return kExitRuntime;
    }
    spdlog::info("release: {}", *what);
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    Args a;
    if (auto rc = parse_args(argc, argv, a)) return *rc;
    xap::setup_logging(a.log_level.value_or("info"));
    // These need neither the configuration nor the kernel: only the state directory.
    if (a.command == "status") return xap::status_command(a.paths, a.json);
    if (a.command == "pause") return xap::override_command(a.paths, xap::Manual::Pause, a.for_);
    if (a.command == "resume") return xap::override_command(a.paths, xap::Manual::Resume, a.for_);
    if (a.command == "auto") return xap::override_command(a.paths, xap::Manual::Auto, std::nullopt);
    try {
        auto cpus = xap::online_cpus(a.paths.proc_root);
        if (!cpus) {
            spdlog::critical("{}", cpus.error().message);
            return kExitRuntime;
        }
        if (a.command == "release") {
            std::optional<xap::Config> config;
            try {
                config = xap::load_config(a.config, !a.config_given, *cpus);
            } catch (const xap::ConfigError& e) {
                spdlog::error("release: configuration unusable, releasing the cgroup the claim names: {}", e.what());
            }
            return release_command(a, config);
        }
        const xap::Config config = xap::load_config(a.config, !a.config_given, *cpus);
        if (!a.log_level) xap::setup_logging(config.log_level);
        return run_command(a, config);
    } catch (const xap::ConfigError& e) {
        spdlog::critical("{}", e.what());
        return kExitConfig;
    } catch (const std::exception& e) {
        spdlog::critical("fatal: {}", e.what());
        return kExitRuntime;
    }
}
