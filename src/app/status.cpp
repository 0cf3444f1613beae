#include "app/status.hpp"

#include <cstdio>
#include <ctime>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "state/atomic_file.hpp"
#include "state/override_store.hpp"

namespace xap {
std::string clock_time(std::int64_t unix)
{
    const std::time_t t = static_cast<std::time_t>(unix);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

namespace {

std::string ago(std::int64_t seconds)
{
    if (seconds < 0) seconds = 0;
    char buf[48];
    if (seconds < 120)
        std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(seconds));
    else if (seconds < 7200)
        std::snprintf(buf, sizeof buf, "%lldmin", static_cast<long long>(seconds / 60));
    else
        std::snprintf(buf, sizeof buf, "%.1fh", static_cast<double>(seconds) / 3600);
    return buf;
}

std::string fixed(double v, int decimals)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

// Label values escape backslash, double quote and newline.
std::string label(const std::string& v)
{
    std::string out;
    for (char c : v) out += c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '\n' ? "\\n" : std::string(1, c);
    return out;
}

}  // namespace

nlohmann::json to_json(const StatusReport& s)
{
    nlohmann::json watched = nlohmann::json::object();
    for (const auto& [name, pct] : s.watched) watched[name] = pct ? nlohmann::json(*pct) : nlohmann::json(nullptr);
    return {
        {"state", s.state},
        {"since_unix", s.since_unix},
        {"reason", s.reason},
        {"reason_unix", s.reason_unix},
        {"miner", s.miner},
        {"signals", {{"system_percent", s.system_percent}, {"miner_percent", s.miner_percent}, {"watched", watched}}},
        {"counters",
         {{"freezes", s.counters.freezes},
          {"thaws", s.counters.thaws},
          {"frozen_seconds", s.counters.frozen_seconds},
          {"dropped_windows", s.counters.dropped_windows}}},
        {"manual",
         {{"mode", s.manual},
          {"until_unix", s.manual_until ? nlohmann::json(*s.manual_until) : nlohmann::json(nullptr)}}},
        {"pid", s.pid},
        {"updated_unix", s.updated_unix}};
}

StatusReport status_from_json(const nlohmann::json& j)
{
    StatusReport s;
    s.state = j.at("state").get<std::string>();
    s.since_unix = j.at("since_unix").get<std::int64_t>();
    s.reason = j.at("reason").get<std::string>();
    s.reason_unix = j.at("reason_unix").get<std::int64_t>();
    s.miner = j.at("miner").get<std::string>();
    const auto& sig = j.at("signals");
    s.system_percent = sig.at("system_percent").get<double>();
    s.miner_percent = sig.at("miner_percent").get<double>();
    for (const auto& [name, v] : sig.at("watched").items())
        s.watched.emplace_back(name, v.is_null() ? std::nullopt : std::optional<double>(v.get<double>()));
    const auto& c = j.at("counters");
    s.counters.freezes = c.at("freezes").get<std::uint64_t>();
    s.counters.thaws = c.at("thaws").get<std::uint64_t>();
    s.counters.frozen_seconds = c.at("frozen_seconds").get<double>();
    s.counters.dropped_windows = c.at("dropped_windows").get<std::uint64_t>();
    s.manual = j.at("manual").at("mode").get<std::string>();
    if (!j.at("manual").at("until_unix").is_null())
        s.manual_until = j.at("manual").at("until_unix").get<std::int64_t>();
    s.pid = j.at("pid").get<std::int64_t>();
    s.updated_unix = j.at("updated_unix").get<std::int64_t>();
    return s;
}

std::string one_line(const StatusReport& s)
{
    std::string line = s.state;
    if (s.since_unix) line += " since " + clock_time(s.since_unix);
    if (!s.reason.empty()) line += ": " + s.reason;
    if (s.manual != "auto")
        line += " [manual " + s.manual + (s.manual_until ? " until " + clock_time(*s.manual_until) : "") + "]";
    return line;
}

std::string describe_status(const StatusReport& s, std::int64_t now_unix, bool daemon_alive)
{
    std::string out;
    if (!daemon_alive) out += "daemon:   not running (last status written " + clock_time(s.updated_unix) + ")\n";
    out += "state:    " + s.state +
           (s.since_unix ? " since " + clock_time(s.since_unix) + " (" + ago(now_unix - s.since_unix) + ")"
                         : std::string()) +
           "\n";
    out += "miner:    " + s.miner + "\n";
    if (!s.reason.empty()) out += "reason:   " + s.reason + " (" + ago(now_unix - s.reason_unix) + " ago)\n";
    out += "override: " + s.manual +
           (s.manual_until       ? " until " + clock_time(*s.manual_until)
            : s.manual != "auto" ? " until `auto`"
                                 : "") +
           "\n";
    out += "signals:  system " + fixed(s.system_percent, 1) + "%, miner " + fixed(s.miner_percent, 1) + "%\n";
    for (const auto& [name, pct] : s.watched)
        out += "          " + name + " " + (pct ? fixed(*pct, 1) + "%" : std::string("not running")) + "\n";
    out += "counters: " + std::to_string(s.counters.freezes) + " freezes, " + std::to_string(s.counters.thaws) +
           " thaws, " + fixed(s.counters.frozen_seconds, 0) + " s frozen, " +
           std::to_string(s.counters.dropped_windows) + " dropped windows\n";
    return out;
}

std::string prometheus_text(const StatusReport& s)
{
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help, const std::string& samples) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + samples;
    };
    auto sample = [](const char* name, const std::string& labels, double v) {
        return std::string(name) + (labels.empty() ? "" : "{" + labels + "}") + " " + fixed(v, 6) + "\n";
    };
    const std::string miner = "miner=\"" + label(s.miner) + "\"";
    std::string states;
    for (const char* st : {"running", "frozen", "frozen-by-someone-else", "miner-inactive", "stopped"})
        states += sample("xmrig_auto_pause_state", miner + ",state=\"" + st + "\"", s.state == st ? 1 : 0);
    metric("xmrig_auto_pause_state", "gauge", "Current state of the miner (1 for the current state).", states);
    metric("xmrig_auto_pause_frozen", "gauge", "1 while the miner is under this daemon's freeze.",
           sample("xmrig_auto_pause_frozen", miner, s.state == "frozen" ? 1 : 0));
    metric("xmrig_auto_pause_system_cpu_ratio", "gauge",
           "Foreground (non-nice, non-miner) CPU use over the last window, as a fraction of total capacity.",
           sample("xmrig_auto_pause_system_cpu_ratio", "", s.system_percent / 100));
    metric("xmrig_auto_pause_miner_cpu_ratio", "gauge", "The miner's CPU use over the last window, fraction of total.",
           sample("xmrig_auto_pause_miner_cpu_ratio", miner, s.miner_percent / 100));
    std::string watched;
    for (const auto& [name, pct] : s.watched)
        if (pct) watched += sample("xmrig_auto_pause_watched_cpu_ratio", "service=\"" + label(name) + "\"", *pct / 100);
    metric("xmrig_auto_pause_watched_cpu_ratio", "gauge",
           "A watched service's CPU use over the last window, fraction of total capacity.", watched);
    metric("xmrig_auto_pause_freezes_total", "counter", "Freezes made by this daemon since it started.",
           sample("xmrig_auto_pause_freezes_total", miner, static_cast<double>(s.counters.freezes)));
    metric("xmrig_auto_pause_thaws_total", "counter", "Thaws made by this daemon since it started.",
           sample("xmrig_auto_pause_thaws_total", miner, static_cast<double>(s.counters.thaws)));
    metric("xmrig_auto_pause_frozen_seconds_total", "counter", "Seconds the miner spent under this daemon's freeze.",
           sample("xmrig_auto_pause_frozen_seconds_total", miner, s.counters.frozen_seconds));
    metric("xmrig_auto_pause_dropped_windows_total", "counter",
           "Measurement windows dropped (counters went backwards, CPU hotplug, suspend).",
           sample("xmrig_auto_pause_dropped_windows_total", "", static_cast<double>(s.counters.dropped_windows)));
    std::string manual;
    for (const char* m : {"auto", "pause", "resume"})
        manual += sample("xmrig_auto_pause_manual_override", std::string("mode=\"") + m + "\"", s.manual == m ? 1 : 0);
    metric("xmrig_auto_pause_manual_override", "gauge", "The manual override in force (1 for the current mode).",
           manual);
    metric("xmrig_auto_pause_last_update_timestamp_seconds", "gauge", "When this file was written (Unix time).",
           sample("xmrig_auto_pause_last_update_timestamp_seconds", "", static_cast<double>(s.updated_unix)));
    return out;
}

StatusKeeper::StatusKeeper(std::string state_dir, std::string metrics_file, std::string miner,
                           const std::vector<std::string>& watched)
    : state_dir_(std::move(state_dir)), metrics_file_(std::move(metrics_file))
{
    report_.miner = std::move(miner);
    report_.pid = ::getpid();
    for (const auto& w : watched) report_.watched.emplace_back(w, std::nullopt);
}

void StatusKeeper::on_window(const Window& w)
{
    if (w.kind == WindowKind::CounterReset || w.kind == WindowKind::Suspended) ++report_.counters.dropped_windows;
    if (!w.valid()) return;
    report_.system_percent = w.system_percent;
    report_.miner_percent = w.miner_percent;
    for (std::size_t i = 0; i < report_.watched.size() && i < w.services.size(); ++i)
        report_.watched[i].second = w.services[i].kind == ServiceLoad::Kind::Measured
                                        ? std::optional<double>(w.services[i].percent)
                                        : std::nullopt;
}

void StatusKeeper::on_state(const std::string& state, const std::string& reason, std::int64_t now_unix)
{
    if (state != report_.state) {
        report_.state = state;
        report_.since_unix = now_unix;
        dirty_ = true;
    }
    if (!reason.empty() && reason != report_.reason) {
        report_.reason = reason;
        report_.reason_unix = now_unix;
        dirty_ = true;
    }
}

void StatusKeeper::on_decision(const Decision& d, std::int64_t now_unix)
{
    if (d.action == Action::Freeze) ++report_.counters.freezes;
    if (d.action == Action::Thaw) ++report_.counters.thaws;
    if (d.action != Action::None) {
        report_.reason = d.reason;
        report_.reason_unix = now_unix;
        dirty_ = true;
    }
}

void StatusKeeper::set_manual(Manual m, std::optional<std::int64_t> until)
{
    const std::string mode = to_string(m);
    if (mode == report_.manual && until == report_.manual_until) return;
    report_.manual = mode;
    report_.manual_until = m == Manual::Auto ? std::nullopt : until;
    dirty_ = true;
}

void StatusKeeper::publish(std::int64_t now_unix)
{
    report_.updated_unix = now_unix;
    const bool changed = dirty_;  // the one-line form only changes with the state, reason or override
    if (dirty_ || now_unix - written_unix_ >= kStatusRefreshSeconds) {
        report_write(status_problem_,
                     atomic_write_file(state_dir_, "status.json", to_json(report_).dump() + "\n", Sync::Fast),
                     "status");
        written_unix_ = now_unix;
        dirty_ = false;
    }
    if (!metrics_file_.empty()) {
        const auto slash = metrics_file_.rfind('/');
        report_write(metrics_problem_,
                     atomic_write_file(metrics_file_.substr(0, slash), metrics_file_.substr(slash + 1),
                                       prometheus_text(report_), Sync::Fast),
                     "metrics");
    }
    if (!changed) return;
    if (std::string line = one_line(report_); line != notified_) {
        sd_notifyf(0, "STATUS=%s", line.c_str());
        notified_ = std::move(line);
    }
}

}  // namespace xap
