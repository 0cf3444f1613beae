// Daemon: one tick = sample -> measure -> decide -> act -> log, driven by the sd-event loop.
// Whatever way it ends (signal, error, exception), a freeze it owns is released by ~Daemon.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "app/event_loop.hpp"
#include "app/ownership.hpp"
#include "app/recording.hpp"
#include "app/sampler.hpp"
#include "app/status.hpp"
#include "config/config.hpp"
#include "policy/controller.hpp"
#include "policy/signal_meter.hpp"
#include "state/override_store.hpp"
#include "sys/cgroup_fs.hpp"
#include "systemd/systemd_units.hpp"

namespace xap {

struct Paths {
    std::string proc_root = "/proc";
    std::string cgroup_root;  // empty: find the cgroup v2 mount in <proc_root>/self/mountinfo
    std::string state_dir;    // resolved by main: --state-dir, $STATE_DIRECTORY, or the default
};

struct RunOptions {
    std::string record_path;    // append every tick's raw sample (and decision) here; "-" is stdout
    bool observe_only = false;  // `record`: sample and record, never decide or act
    Duration duration{};        // stop after this long; zero: until SIGTERM/SIGINT
};

inline constexpr const char* kDefaultStateDir = "/var/lib/xmrig-auto-pause";

// The cgroup v2 hierarchy as Paths say; an Error explains why there is none usable.
Result<std::shared_ptr<CgroupFs>> open_hierarchy(const Paths& paths);

// Online CPUs as /proc/stat lists them (the frame of every percentage).
Result<unsigned> online_cpus(const std::string& proc_root);

// The `release` command: thaw the miner if the state directory holds a claim that is valid for
// it now, drop a stale claim, touch nothing else. Returns what was done. `config` may be null (an
// unusable configuration must not keep a freeze alive): the claim names the cgroup to release.
Result<std::string> release_claim(const Config* config, const Paths& paths);

class Daemon {
public:
    Daemon(Config config, Paths paths, RunOptions options = {});
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Finds the hierarchy, opens the files, checks that a freeze could be written, loads the
    // claim. An Error here means the daemon would run without effect: exit non-zero.
    Status start();
    // Runs until SIGTERM/SIGINT (returns 0) or a fatal error; releases its freeze on the way out.
    int run();

private:
    Status self_test() const;
    void connect_systemd();
    void follow_units();
    void overlay_unit_state(MinerState& miner) const;
    bool recheck_freezer_state(bool force);
    // measured: a scheduled tick, which measures a window; event ticks only re-decide.
    void tick(bool measured = true);
    Manual manual_mode(std::int64_t now_unix);
    void load_override();
    void record_beside_daemon(const RawSample& sample, bool measured, std::int64_t now_unix);
    // Returns the miner as it is after the action.
    MinerState act(const Decision& d, const MinerState& miner);
    void publish(const Window& w, const MinerState& miner, Duration since_last, std::int64_t now_unix);
    void report_effective_state(const MinerState& miner, bool just_frozen);
    void release();

    Config config_;
    Paths paths_;
    RunOptions options_;
    std::shared_ptr<CgroupFs> fs_;
    std::string miner_path_;
    std::unique_ptr<Sampler> sampler_;
    std::unique_ptr<SignalMeter> meter_;
    Controller controller_;
    Ownership ownership_;
    std::unique_ptr<EventLoop> loop_;
    std::unique_ptr<SystemdUnits> systemd_;    // null without systemd: unit names map to default paths
    std::map<std::string, bool> unit_exists_;  // for reporting a missing unit once

    OverrideStore overrides_;
    Override override_;
    std::unique_ptr<StatusKeeper> status_;
    std::unique_ptr<Recorder> recorder_;
    std::optional<Duration> last_tick_;
    std::string tick_problem_;
    std::vector<std::string> service_problems_;
    std::string record_problem_;  // the --record file's write error, logged when it starts and ends
    std::string action_problem_;  // a freeze or thaw that failed and is being retried
    std::string effective_note_;
    bool last_freeze_requested_ = false;  // the miner's cgroup.freeze at the previous tick
    bool released_ = false;
};

}  // namespace xap
