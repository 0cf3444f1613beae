#include "app/commands.hpp"

#include <csignal>
#include <cstdio>
#include <ctime>
#include <fcntl.h>

#include <fmt/core.h>

#include "app/recording.hpp"
#include "app/status.hpp"
#include "state/atomic_file.hpp"
#include "state/override_store.hpp"
#include "sys/fd.hpp"

namespace xap {
namespace {

// The pid in status.json is the daemon only while that process exists and is still this program.
bool daemon_alive(std::int64_t pid)
{
    // EPERM: it exists, it is just not ours to signal (status run as an ordinary user).
    if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)) return false;
    const std::string comm_path = "/proc/" + std::to_string(pid) + "/comm";
    auto comm = read_file_at(AT_FDCWD, comm_path, comm_path);
    return comm && comm->starts_with("xmrig-auto-pau");
}

}  // namespace

int status_command(const Paths& paths, bool json)
{
    const std::string path = paths.state_dir + "/status.json";
    auto text = read_file_at(AT_FDCWD, path, path);
    if (!text) {
        fmt::print(stderr, "xmrig-auto-pause: no status: {}{}\n", text.error().message,
                   text.error().errno_value == ENOENT ? " (has the daemon run with this state directory?)" : "");
        return 1;
    }
    StatusReport s;
    try {
        s = status_from_json(nlohmann::json::parse(*text));
    } catch (const std::exception& e) {
        fmt::print(stderr, "xmrig-auto-pause: {} is malformed: {}\n", path, e.what());
        return 1;
    }
    // The override file is the truth for the manual mode, even while the daemon is down.
    if (auto o = OverrideStore(paths.state_dir).load(); o) {
        const Manual m = active_mode(*o, std::time(nullptr));
        s.manual = to_string(m);
        s.manual_until = m == Manual::Auto ? std::nullopt : o->until_unix;
    }
    const bool alive = daemon_alive(s.pid);
    if (json) {
        auto j = to_json(s);
        j["daemon_running"] = alive;
        fmt::print("{}\n", j.dump(2));
    } else {
        fmt::print("{}", describe_status(s, std::time(nullptr), alive));
    }
    return 0;
}

int override_command(const Paths& paths, Manual mode, std::optional<Duration> for_)
{
    OverrideStore store(paths.state_dir);
    Status s = Ok{};
    std::string said;
    if (mode == Manual::Auto) {
        s = store.clear();
        said = "automatic control restored";
    } else {
        Override o;
        o.mode = mode;
        o.set_unix = std::time(nullptr);
        if (for_) o.until_unix = o.set_unix + std::chrono::duration_cast<std::chrono::seconds>(*for_).count();
        // Before the daemon's first start (or with --state-dir) the directory may not exist yet; the
        // daemon creates it the same way and finds the override there.
        s = ensure_directory(paths.state_dir);
        if (s) s = store.save(o);
        said = (mode == Manual::Pause ? "miner paused" : "miner forced to run") +
               (o.until_unix ? " until " + clock_time(*o.until_unix) : std::string(" until `xmrig-auto-pause auto`"));
    }
    if (!s) {
        fmt::print(stderr, "xmrig-auto-pause: {}{}\n", s.error().message,
                   s.error().errno_value == EACCES ? " (run as root)" : "");
        return 1;
    }
    fmt::print("{} ({}; a running daemon applies it at once)\n", said, store.path());
    return 0;
}

int replay_command(const Config& config, const std::string& file)
{
    std::FILE* in = file == "-" ? stdin : std::fopen(file.c_str(), "re");
    if (!in) {
        fmt::print(stderr, "xmrig-auto-pause: cannot open {}: {}\n", file, std::strerror(errno));
        return 1;
    }
    auto sum = replay(in, file, config, [](const ReplayEvent& e) {
        const double t = std::chrono::duration<double>(e.at).count();
        if (e.decision.drop_claim) std::printf("%+10.1fs  drop claim  %s\n", t, e.decision.drop_reason.c_str());
        if (e.decision.action != Action::None)
            std::printf("%+10.1fs  %-10s  %s\n", t, e.decision.action == Action::Freeze ? "freeze" : "thaw",
                        e.decision.reason.c_str());
    });
    if (in != stdin) std::fclose(in);
    if (!sum) {
        fmt::print(stderr, "xmrig-auto-pause: {}\n", sum.error().message);
        return 1;
    }
    const double span_min = std::chrono::duration<double>(sum->span).count() / 60;
    const double frozen_min = std::chrono::duration<double>(sum->frozen).count() / 60;
    std::printf("\n%zu ticks over %.1f min, %zu dropped windows\n", sum->ticks, span_min, sum->dropped_windows);
    std::printf("%zu freezes, %zu thaws, %.1f min frozen (%.0f%%), %.1f transitions per hour\n", sum->freezes,
                sum->thaws, frozen_min, span_min > 0 ? 100 * frozen_min / span_min : 0.0, sum->transitions_per_hour());
    return 0;
}

}  // namespace xap
