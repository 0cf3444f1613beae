// Argument parsing and exit codes; everything else lives in app/.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

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
  run             run the daemon (the default)
  check-config    validate the configuration, print the effective settings, and exit
  release         thaw the miner if the state directory holds this daemon's valid claim on it,
                  then delete the claim (for ExecStopPost=; never thaws a foreign freeze)

Options:
  -c, --config PATH     JSON configuration (default /etc/xmrig-auto-pause/config.json;
                        built-in defaults when that default file does not exist)
      --check-config    same as the check-config command
      --state-dir DIR   where the freeze claim is kept
                        (default $STATE_DIRECTORY, else /var/lib/xmrig-auto-pause)
      --cgroup-root DIR use this cgroup v2 directory instead of the mount found in mountinfo
      --proc-root DIR   read /proc from DIR (tests)
      --log-level LVL   debug, info, warning or error (overrides the configuration)
  -h, --help            this text
      --version         the version

Exit status: 0 success, 64 usage error, 78 bad configuration, 1 other failures.
See xmrig-auto-pause(8) and xmrig-auto-pause.json(5).
)";

struct Args {
    std::string command = "run";
    std::string config = xap::kDefaultConfigPath;
    bool config_given = false;
    std::optional<std::string> log_level;
    xap::Paths paths;
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

// Returns an exit code when parsing ends the program (help, version, usage error).
std::optional<int> parse_args(int argc, char** argv, Args& a)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    a.paths.state_dir = default_state_dir();
    bool command_seen = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& s = args[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) {
                std::cerr << "xmrig-auto-pause: " << s << " needs a value\n";
                return false;
            }
            out = args[++i];
            return true;
        };
        std::string level;
        if (s == "-h" || s == "--help") {
            std::cout << kUsage;
            return 0;
        } else if (s == "--version") {
            std::cout << "xmrig-auto-pause " << XAP_VERSION << "\n";
            return 0;
        } else if (s == "-c" || s == "--config") {
            if (!value(a.config)) return kExitUsage;
            a.config_given = true;
        } else if (s == "--check-config") {
            a.command = "check-config";
        } else if (s == "--state-dir") {
            if (!value(a.paths.state_dir)) return kExitUsage;
        } else if (s == "--cgroup-root") {
            if (!value(a.paths.cgroup_root)) return kExitUsage;
        } else if (s == "--proc-root") {
            if (!value(a.paths.proc_root)) return kExitUsage;
        } else if (s == "--log-level") {
            if (!value(level)) return kExitUsage;
            a.log_level = level;
        } else if (!s.starts_with("-") && !command_seen &&
                   (s == "run" || s == "check-config" || s == "release")) {
            a.command = s;
            command_seen = true;
        } else {
            std::cerr << "xmrig-auto-pause: unknown argument \"" << s << "\" (see --help)\n";
            return kExitUsage;
        }
    }
    return std::nullopt;
}

int run_command(const Args& a, const xap::Config& config)
{
    if (a.command == "check-config") {
        std::cout << (a.config_given ? a.config : std::string(a.config) + " (or built-in defaults)")
                  << ": OK\n" << xap::describe(config) << "\n";
        return 0;
    }
    if (a.command == "release") {
        auto what = xap::release_claim(config, a.paths);
        if (!what) {
            spdlog::error("release: {}", what.error().message);
            return kExitRuntime;
        }
        spdlog::info("release: {}", *what);
        return 0;
    }
    xap::Daemon daemon(config, a.paths);
    if (auto s = daemon.start(); !s) {
        spdlog::critical("cannot start: {}", s.error().message);
        return kExitRuntime;
    }
    return daemon.run();
}

}  // namespace

int main(int argc, char** argv)
{
    Args a;
    if (auto rc = parse_args(argc, argv, a)) return *rc;
    xap::setup_logging(a.log_level.value_or("info"));
    try {
        auto cpus = xap::online_cpus(a.paths.proc_root);
        if (!cpus) {
            spdlog::critical("{}", cpus.error().message);
            return kExitRuntime;
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
