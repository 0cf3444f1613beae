// Controller: the pause/resume state machine. Pure: it takes a measured window, the miner as
// read this tick and the claim on disk, and returns what to do and why. The caller acts and logs.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "policy/sample.hpp"
#include "policy/signal_meter.hpp"

namespace xap {

struct WatchedPolicy {
    std::string name;          // for reasons: the unit name or cgroup path
    double threshold_percent;  // of total capacity
};

struct PolicySettings {
    Duration poll_interval = std::chrono::milliseconds(200);
    Duration grace_period = std::chrono::seconds(15);
    // Resume back-off: a freeze that follows two thaws within grace_period_max doubles the grace
    // period, up to this cap, which bounds freeze/thaw cycles under periodic spikes.
    Duration grace_period_max = std::chrono::seconds(120);
    // Pressure must be seen over this much time, in consecutive windows, before a freeze. When a
    // window leaves less than a poll interval to go, the next one is cut to what is missing.
    Duration stop_debounce = std::chrono::milliseconds(300);
    double stop_percent = 15.0;
    double resume_percent = 5.0;
    std::vector<WatchedPolicy> watched;

    // How many windows the quiet test averages the system signal over (kQuietAveraging, rounded up).
    [[nodiscard]] unsigned quiet_windows() const;
};

// "Quiet" also compares the system signal averaged over this long with the resume threshold.
// Single short windows are too coarse for it: /proc/stat counts in 10 ms ticks, so one tick is
// 2.5 % of a 200 ms window on 2 CPUs, and a light service hovering near 5 % (measured: a request
// loop that now and then shows 7-9 % for a window) would keep restarting the grace period. Three
// seconds is the window of the prototype's 3 s poll, so what it called quiet, this calls quiet.
inline constexpr Duration kQuietAveraging = std::chrono::seconds(3);

// What the state directory says: whether we hold a claim, and on which miner identity.
struct ClaimView {
    bool held = false;
    std::string identity;       // empty when the claim file could not be parsed
    std::string invocation_id;  // systemd's InvocationID at the freeze, when known
};

// Why a claim no longer makes a freeze ours, or nullopt while it does: the miner it names still
// exists, is the same instance, and still has the freeze we asked for.
std::optional<std::string> stale_claim(const MinerState& miner, const ClaimView& claim);

enum class Action { None, Freeze, Thaw };

// A person's override: pause (freeze now, whatever the load) or resume (run, whatever the load).
enum class Manual { Auto, Pause, Resume };

struct Decision {
    bool drop_claim = false;  // the claim is stale: delete it, touch nothing
    std::string drop_reason;
    Action action = Action::None;
    std::string reason;                 // for Freeze/Thaw: the signal, its value and the threshold
    std::optional<std::string> notice;  // a change in why nothing can be done (logged once)
    // Measure again this soon instead of at the next regular tick: the pressure streak will have
    // lasted stop_debounce by then.
    std::optional<Duration> measure_again_in;
};

// Window lengths come from timers with 1 ms accuracy: a streak this close to the debounce counts.
inline constexpr Duration kDebounceSlack = std::chrono::milliseconds(2);

class Controller {
public:
    explicit Controller(PolicySettings settings);

    Decision step(const Window& window, const MinerState& miner, const ClaimView& claim, Duration now,
                  Manual manual = Manual::Auto);

    [[nodiscard]] const PolicySettings& settings() const { return settings_; }
    [[nodiscard]] Duration current_grace() const { return grace_; }
    [[nodiscard]] Duration quiet_for() const { return quiet_; }

private:
    struct Reading {
        const Window* window = nullptr;  // valid during the step that read it
        bool pressure = false;
        bool system_pressure = false;
        bool quiet = false;
        double average = 0.0;  // the system signal over the last kQuietAveraging
    };

    [[nodiscard]] Reading read(const Window& window) const;
    [[nodiscard]] bool service_busy(const ServiceLoad& s, std::size_t i) const;
    [[nodiscard]] std::string why(const Reading& r) const;
    [[nodiscard]] double average_system(double latest) const;
    void track(const Window& window, const Reading& r);
    void decide_unowned(Decision& d, const Reading& r, const MinerState& miner, Duration now);
    void decide_owned(Decision& d, const Reading& r, const MinerState& miner, Duration now);
    void back_off(Duration now);
    void thaw(Decision& d, std::string why, Duration now);
    void decide_manual(Decision& d, Manual manual, bool owned, const MinerState& miner, Duration now);
    void set_notice(Decision& d, const std::string& kind, std::string text);

    PolicySettings settings_;
    Duration pressure_for_{};           // consecutive windows with pressure, summed
    std::deque<double> recent_system_;  // the last quiet_windows() valid windows' system signal
    Duration quiet_{};
    Duration grace_;
    std::deque<Duration> recent_thaws_;  // the last two thaws, for the back-off
    std::string notice_;
};

std::string format_percent(double value);

}  // namespace xap
