#include "policy/controller.hpp"

#include <algorithm>
#include <cstdio>

namespace xap {
namespace {

double seconds(Duration d)
{
    return std::chrono::duration<double>(d).count();
}

std::string format_seconds(Duration d)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", seconds(d));
    return buf;
}

}  // namespace

std::string format_percent(double value)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", value);
    return buf;
}

unsigned PolicySettings::quiet_windows() const
{
    if (poll_interval <= Duration{}) return 1;
    const auto n = (kQuietAveraging.count() + poll_interval.count() - 1) / poll_interval.count();
    return static_cast<unsigned>(std::max<decltype(n)>(1, n));
}

Controller::Controller(PolicySettings settings) : settings_(std::move(settings)), grace_(settings_.grace_period) {}

// The mean of the latest quiet_windows() system readings, this one included.
double Controller::average_system(double latest) const
{
    double sum = latest;
    std::size_t n = 1;
    for (auto it = recent_system_.rbegin(); it != recent_system_.rend() && n < settings_.quiet_windows(); ++it, ++n)
        sum += *it;
    return sum / static_cast<double>(n);
}

bool Controller::service_busy(const ServiceLoad& s, std::size_t i) const
{
    return s.kind == ServiceLoad::Kind::Measured && s.percent > settings_.watched[i].threshold_percent;
}

Controller::Reading Controller::read(const Window& w) const
{
    Reading r;
    r.window = &w;
    r.system_pressure = w.system_percent > settings_.stop_percent;
    r.pressure = r.system_pressure;
    bool services_quiet = true;
    for (std::size_t i = 0; i < settings_.watched.size() && i < w.services.size(); ++i) {
        const ServiceLoad& s = w.services[i];
        if (s.kind == ServiceLoad::Kind::Reset) services_quiet = false;  // unknown is not quiet
        if (s.kind == ServiceLoad::Kind::Measured && s.percent >= settings_.watched[i].threshold_percent)
            services_quiet = false;
        r.pressure = r.pressure || service_busy(s, i);
    }
    // Quiet when this window is at or below the resume threshold (the prototype's rule), or when the
    // average over kQuietAveraging is: the average forgives a few noisy windows of an idle machine,
    // and the window itself lets quiet time start with the first quiet window after a load ends,
    // not when the load has left the average.
    r.average = average_system(w.system_percent);
    const bool system_quiet = w.system_percent <= settings_.resume_percent || r.average <= settings_.resume_percent;
    r.quiet = !r.pressure && services_quiet && system_quiet;
    return r;
}

// The numbers behind a reading, for a decision or a notice. Built only when one is made: a tick
// that decides nothing formats nothing.
std::string Controller::why(const Reading& r) const
{
    if (!r.window) return "not measured this tick";
    const Window& w = *r.window;
    const double resume = settings_.resume_percent;
    if (r.quiet) return format_percent(std::min(w.system_percent, r.average)) + " <= resume " + format_percent(resume);
    if (!r.pressure)
        return r.average > resume
                   ? "system CPU " + format_percent(r.average) + " above resume " + format_percent(resume)
                   : "a watched service is at its threshold or was restarted";
    std::string text;
    if (r.system_pressure)
        text = "system CPU " + format_percent(w.system_percent) + " > stop " + format_percent(settings_.stop_percent);
    std::string busy;
    for (std::size_t i = 0; i < settings_.watched.size() && i < w.services.size(); ++i)
        if (service_busy(w.services[i], i))
            busy += (busy.empty() ? "" : ", ") + settings_.watched[i].name + " " +
                    format_percent(w.services[i].percent) + " > " +
                    format_percent(settings_.watched[i].threshold_percent);
    if (!busy.empty()) text += (text.empty() ? "watched " : "; watched ") + busy;
    return text;
}

std::optional<std::string> stale_claim(const MinerState& miner, const ClaimView& claim)
{
    if (!claim.held) return std::nullopt;
    if (!miner.present) return "the miner's cgroup is gone";
    if (!claim.identity.empty() && claim.identity != miner.identity)
        return "the miner was recreated (claim names " + claim.identity + ", the miner is now " + miner.identity + ")";
    if (!claim.invocation_id.empty() && !miner.invocation_id.empty() && claim.invocation_id != miner.invocation_id)
        return "the miner was restarted (claim names invocation " + claim.invocation_id + ", the miner is now " +
               miner.invocation_id + ")";
    if (miner.frozen_by_systemd())
        return "systemd now holds its own freeze on the miner (FreezerState=" + miner.systemd_freezer + ")";
    if (!miner.freeze_requested) return "someone else thawed the miner";
    return std::nullopt;
}

void Controller::track(const Window& w, const Reading& r)
{
    if (w.kind == WindowKind::Unmeasured) return;  // no time was measured: streaks stand as they are
    if (!w.valid()) {
        // A dropped window gives neither pressure nor idle credit; a suspend also restarts the
        // grace period, since the load before the sleep says nothing about the load after it.
        pressure_for_ = Duration{};
        if (w.kind == WindowKind::Suspended) {
            quiet_ = Duration{};
            recent_system_.clear();
        }
        return;
    }
    pressure_for_ = r.pressure ? pressure_for_ + w.length : Duration{};
    quiet_ = r.quiet ? quiet_ + w.length : Duration{};
    recent_system_.push_back(w.system_percent);
    while (recent_system_.size() >= settings_.quiet_windows()) recent_system_.pop_front();
}

// Logged when the kind of blocker changes, not when only its numbers do.
void Controller::set_notice(Decision& d, const std::string& kind, std::string text)
{
    if (kind == notice_) return;
    notice_ = kind;
    if (!kind.empty()) d.notice = std::move(text);
}

void Controller::decide_unowned(Decision& d, const Reading& r, const MinerState& miner, Duration now)
{
    if (!r.pressure) {
        set_notice(d, "", "");
        return;
    }
    if (const Duration missing = settings_.stop_debounce - pressure_for_; missing > kDebounceSlack) {
        // No shorter than half a poll: /proc/stat counts 10 ms ticks, so a very short window says
        // little and could break the streak on noise.
        if (missing < settings_.poll_interval) d.measure_again_in = std::max(missing, settings_.poll_interval / 2);
        return;
    }
    if (!miner.running()) {
        set_notice(d, "not running: " + miner.not_running_reason,
                   "pressure (" + why(r) + ") but the miner is not running: " + miner.not_running_reason);
        return;
    }
    if (miner.frozen_by_systemd()) {
        set_notice(d, "systemd freeze",
                   "pressure (" + why(r) + ") but systemd holds a freeze on the miner (FreezerState=" +
                       miner.systemd_freezer + "); leaving it alone");
        return;
    }
    if (miner.freeze_requested) {
        set_notice(d, "foreign freeze",
                   "pressure (" + why(r) + ") but the miner is already frozen by someone else; leaving it alone");
        return;
    }
    set_notice(d, "", "");
    back_off(now);
    d.action = Action::Freeze;
    d.reason = why(r);
}

namespace {

// A freeze that must end now whatever the load or a manual pause says: the miner is stopping or
// reloading (a frozen task cannot run its signal handler) or its cgroup has emptied.
std::string must_thaw_now(const MinerState& miner)
{
    if (miner.stopping)
        return "the miner is changing state (" + miner.not_running_reason + "): thawing so it can handle the signal";
    if (!miner.populated) return "the miner has no processes left: thawing its empty cgroup";
    return {};
}

}  // namespace

// Two busy spells with a short calm between them are ordinary work, and each gets the base grace
// period. A third freeze within grace_period_max of two thaws means the load comes in spikes: the
// grace period doubles (up to the cap) and stays up until a calm spell longer than the cap, so
// periodic spikes settle into at most one freeze/thaw cycle per grace_period_max.
void Controller::back_off(Duration now)
{
    while (!recent_thaws_.empty() && now - recent_thaws_.front() >= settings_.grace_period_max)
        recent_thaws_.pop_front();
    if (recent_thaws_.empty())
        grace_ = settings_.grace_period;
    else if (recent_thaws_.size() >= 2)
        grace_ = std::min(grace_ * 2, settings_.grace_period_max);
}

void Controller::thaw(Decision& d, std::string why, Duration now)
{
    d.action = Action::Thaw;
    d.reason = std::move(why);
    recent_thaws_.push_back(now);
    while (recent_thaws_.size() > 2) recent_thaws_.pop_front();
    quiet_ = Duration{};
}

void Controller::decide_owned(Decision& d, const Reading& r, const MinerState& miner, Duration now)
{
    if (std::string urgent = must_thaw_now(miner); !urgent.empty())
        thaw(d, std::move(urgent), now);
    else if (quiet_ >= grace_)
        thaw(d,
             "quiet for " + format_seconds(quiet_) + " >= grace " + format_seconds(grace_) +
                 (r.window ? " (system CPU " + why(r) + ")" : std::string()),
             now);
}

// Manual modes bypass the signals, never the ownership rules: a pause is still a claimed freeze of
// a running miner (undone on exit), a resume only thaws our own freeze.
void Controller::decide_manual(Decision& d, Manual manual, bool owned, const MinerState& miner, Duration now)
{
    if (manual == Manual::Resume) {
        if (owned) thaw(d, "manual resume", now);
        return;
    }
    if (owned) {
        if (std::string urgent = must_thaw_now(miner); !urgent.empty()) thaw(d, std::move(urgent), now);
        return;
    }
    if (!miner.running()) {
        set_notice(d, "manual, not running: " + miner.not_running_reason,
                   "manual pause, but the miner is not running: " + miner.not_running_reason);
    } else if (miner.frozen_by_systemd() || miner.freeze_requested) {
        set_notice(d, "manual, foreign freeze",
                   "manual pause, but the miner is already frozen by someone else; leaving it alone");
    } else {
        set_notice(d, "", "");
        d.action = Action::Freeze;
        d.reason = "manual pause";
    }
}

Decision Controller::step(const Window& window, const MinerState& miner, const ClaimView& claim, Duration now,
                          Manual manual)
{
    Decision d;
    const Reading r = window.valid() ? read(window) : Reading{};
    track(window, r);

    bool owned = claim.held;
    if (auto stale = stale_claim(miner, claim)) {
        d.drop_claim = true;
        d.drop_reason = std::move(*stale);
        owned = false;
    }
    if (manual != Manual::Auto)
        decide_manual(d, manual, owned, miner, now);
    else if (owned)
        decide_owned(d, r, miner, now);
    else
        decide_unowned(d, r, miner, now);
    return d;
}

}  // namespace xap
