#include "config/config.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "sys/fd.hpp"

namespace xap {
namespace {

using json = nlohmann::json;

// JSON pointer escaping: "~" -> "~0", "/" -> "~1" (unit names never need it; cgroup paths do).
std::string pointer(const std::string& parent, const std::string& key)
{
    std::string k;
    for (char c : key) k += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
    return parent + "/" + k;
}

std::string shown(const json& v)
{
    return v.dump();
}

std::string trim(std::string s)
{
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// A number followed by an optional suffix; false when the number part is malformed.
bool split_number(const std::string& s, double& value, std::string& suffix)
{
    const char* begin = s.c_str();
    char* end = nullptr;
    errno = 0;
    value = std::strtod(begin, &end);
    if (end == begin || errno != 0 || !std::isfinite(value)) return false;
    suffix = trim(std::string(end));
    return true;
}

class Parser {
public:
    Parser(std::string source, unsigned cpus) : source_(std::move(source)), cpus_(cpus == 0 ? 1 : cpus) {}

    Config parse(const json& root);
    void error(const std::string& path, const std::string& what) { errors_.push_back(path + ": " + what); }
    [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }

private:
    bool duration(const json& v, const std::string& path, Duration& out);
    bool threshold(const json& v, const std::string& path, double& percent, std::string& text);
    void watched(const json& v, const std::string& path, Config& c);
    void validate(Config& c);

    std::string source_;
    unsigned cpus_;
    std::vector<std::string> errors_;
};

std::string seconds_text(Duration d)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", std::chrono::duration<double>(d).count());
    return buf;
}

bool Parser::duration(const json& v, const std::string& path, Duration& out)
{
    double seconds = 0;
    if (v.is_number()) {
        seconds = v.get<double>();
    } else if (v.is_string()) {
        auto d = parse_duration(v.get<std::string>());
        if (!d) {
            error(path, d.error().message);
            return false;
        }
        out = *d;
        return true;
    } else {
        error(path, "expected a duration (seconds as a number, or a string like \"200ms\"), got " + shown(v));
        return false;
    }
    if (!std::isfinite(seconds) || seconds < 0) {
        error(path, "must not be negative, got " + shown(v));
        return false;
    }
    out = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
    return true;
}

bool Parser::threshold(const json& v, const std::string& path, double& percent, std::string& text)
{
    if (v.is_number()) {
        percent = v.get<double>();
        text = format_percent(percent);
    } else if (v.is_string()) {
        std::string suffix;
        double n = 0;
        if (!split_number(v.get<std::string>(), n, suffix) ||
            (suffix != "%" && suffix != "core" && suffix != "cores")) {
            error(path, "expected a percentage of total CPU capacity (15 or \"15%\") or cores (\"1.5 cores\"), got " +
                            shown(v));
            return false;
        }
        // One full core is 100/nproc percent of total capacity, the frame /proc/stat uses.
        percent = suffix == "%" ? n : n * 100.0 / cpus_;
        text = v.get<std::string>();
        if (suffix != "%") text += " = " + format_percent(percent) + " of " + std::to_string(cpus_) + " CPUs";
    } else {
        error(path, "expected a number (percent) or a string (\"15%\", \"1.5 cores\"), got " + shown(v));
        return false;
    }
    if (!std::isfinite(percent) || percent < 0 || percent > 100) {
        error(path,
              "must be between 0% and 100% of total capacity, got " + shown(v) +
                  (v.is_string() && !v.get<std::string>().ends_with("%") ? " (" + format_percent(percent) + ")" : ""));
        return false;
    }
    return true;
}

void Parser::watched(const json& v, const std::string& path, Config& c)
{
    if (!v.is_object()) {
        error(path,
              "expected an object mapping unit names or cgroup paths to thresholds, e.g. "
              "{\"minecraft.service\": \"0.5 cores\"}, got " +
                  shown(v));
        return;
    }
    for (const auto& [name, th] : v.items()) {
        const std::string p = pointer(path, name);
        auto target = parse_target(name);
        if (!target) {
            error(p, target.error().message);
            continue;
        }
        WatchedService w{*target, 0, ""};
        if (threshold(th, p, w.threshold_percent, w.threshold_text)) c.watched.push_back(std::move(w));
    }
}

void Parser::validate(Config& c)
{
    using namespace std::chrono_literals;
    if (c.poll_interval < 10ms || c.poll_interval > 60s)
        error("/poll_interval", "must be between 10ms and 60s, got " + seconds_text(c.poll_interval));
    if (c.grace_period_max < c.grace_period)
        error("/grace_period_max", "must be at least grace_period (" + seconds_text(c.grace_period) + ")");
    if (c.stop_debounce > 60s) error("/stop_debounce", "must be at most 60s");
    if (c.stop_percent <= 0) error("/stop_threshold", "must be above 0%");
    if (c.resume_percent >= c.stop_percent)
        error("/resume_threshold", "must be below stop_threshold (" + format_percent(c.stop_percent) +
                                       ") for hysteresis, got " + format_percent(c.resume_percent));

    auto miner_path = default_cgroup_path(c.miner);
    std::set<std::string> seen;
    for (const WatchedService& w : c.watched) {
        const std::string p = pointer("/watched", w.target.display());
        if (!seen.insert(w.target.display()).second) error(p, "listed twice");
        if (w.target == c.miner) {
            error(p, "is the miner itself: the miner's own load would freeze it");
            continue;
        }
        auto path = default_cgroup_path(w.target);
        if (miner_path && path && cgroup_contains(*path, *miner_path))
            error(p, "contains the miner (" + c.miner.display() + "): the miner's own load would freeze it");
    }
}

Config Parser::parse(const json& root)
{
    Config c;
    if (!root.is_object()) {
        error("", "the configuration must be a JSON object, got " + shown(root));
        return c;
    }
    for (const auto& [key, v] : root.items()) {
        const std::string p = pointer("", key);
        if (key == "poll_interval")
            duration(v, p, c.poll_interval);
        else if (key == "grace_period")
            duration(v, p, c.grace_period);
        else if (key == "grace_period_max")
            duration(v, p, c.grace_period_max);
        else if (key == "stop_debounce")
            duration(v, p, c.stop_debounce);
        else if (key == "stop_threshold") {
            std::string t;
            threshold(v, p, c.stop_percent, t);
        } else if (key == "resume_threshold") {
            std::string t;
            threshold(v, p, c.resume_percent, t);
        } else if (key == "watched")
            watched(v, p, c);
        else if (key == "miner") {
            if (!v.is_string()) {
                error(p, "expected a unit name or cgroup path string, got " + shown(v));
                continue;
            }
            auto t = parse_target(v.get<std::string>());
            if (t)
                c.miner = *t;
            else
                error(p, t.error().message);
        } else if (key == "metrics_file") {
            if (!v.is_string() || v.get<std::string>().empty() || !v.get<std::string>().starts_with("/"))
                error(p,
                      "expected an absolute path, e.g. \"/var/lib/prometheus/node-exporter/xmrig-auto-pause.prom\", "
                      "got " +
                          shown(v));
            else
                c.metrics_file = v.get<std::string>();
        } else if (key == "log_level") {
            if (!v.is_string() || !is_log_level(v.get<std::string>()))
                error(p, "expected one of \"debug\", \"info\", \"warning\", \"error\", got " + shown(v));
            else
                c.log_level = v.get<std::string>();
        } else {
            error(p,
                  "unknown key (known: poll_interval, grace_period, grace_period_max, stop_debounce, "
                  "stop_threshold, resume_threshold, miner, watched, metrics_file, log_level)");
        }
    }
    // Defaults of grace_period_max follow a raised grace_period, so setting only grace works.
    if (!root.contains("grace_period_max") && c.grace_period_max < c.grace_period) c.grace_period_max = c.grace_period;
    validate(c);
    return c;
}

// nlohmann keeps the last of duplicate keys silently; a duplicate is almost always a mistake.
// Returns the JSON pointer of each repeated key.
std::vector<std::string> duplicate_keys(const std::string& text)
{
    struct Level {
        std::string at;  // the object's own pointer
        std::set<std::string> keys;
        std::string last;  // the key whose value is being parsed
    };
    std::vector<std::string> dups;
    std::vector<Level> stack;
    json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
        if (ev == json::parse_event_t::object_start)
            stack.push_back({stack.empty() ? std::string() : pointer(stack.back().at, stack.back().last), {}, {}});
        else if (ev == json::parse_event_t::object_end && !stack.empty())
            stack.pop_back();
        else if (ev == json::parse_event_t::key && !stack.empty()) {
            stack.back().last = parsed.get<std::string>();
            if (!stack.back().keys.insert(stack.back().last).second)
                dups.push_back(pointer(stack.back().at, stack.back().last));
        }
        return true;
    };
    [[maybe_unused]] const json ignored = json::parse(text, cb, false);
    return dups;
}

}  // namespace

Result<Duration> parse_duration(const std::string& text)
{
    double seconds = 0;
    std::string suffix;
    if (!split_number(text, seconds, suffix))
        return Error{0, "expected a duration like 0.2, \"200ms\", \"15s\" or \"2min\", got \"" + text + "\""};
    static const std::map<std::string, double> kUnits = {{"", 1},   {"ms", 1e-3}, {"s", 1},   {"sec", 1},
                                                         {"m", 60}, {"min", 60},  {"h", 3600}};
    const auto unit = kUnits.find(suffix);
    if (unit == kUnits.end())
        return Error{0, "unknown duration unit \"" + suffix + "\" in \"" + text + "\" (use ms, s, min or h)"};
    seconds *= unit->second;
    if (!std::isfinite(seconds) || seconds < 0) return Error{0, "must not be negative, got \"" + text + "\""};
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

PolicySettings Config::policy() const
{
    PolicySettings p;
    p.poll_interval = poll_interval;
    p.grace_period = grace_period;
    p.grace_period_max = grace_period_max;
    p.stop_debounce = stop_debounce;
    p.stop_percent = stop_percent;
    p.resume_percent = resume_percent;
    for (const auto& w : watched) p.watched.push_back({w.target.display(), w.threshold_percent});
    return p;
}

Config parse_config(const std::string& text, const std::string& source, unsigned online_cpus)
{
    json root;
    try {
        root = json::parse(text);
    } catch (const json::parse_error& e) {
        throw ConfigError(source + ": not valid JSON: " + e.what());
    }
    Parser p(source, online_cpus);
    for (const auto& at : duplicate_keys(text)) p.error(at, "appears twice in its object (the last one would win)");
    Config c = p.parse(root);
    if (!p.errors().empty()) {
        std::string msg = source + ": invalid configuration:";
        for (const auto& e : p.errors()) msg += "\n  " + e;
        throw ConfigError(msg);
    }
    return c;
}

Config load_config(const std::string& path, bool missing_is_default, unsigned online_cpus)
{
    auto text = read_file_at(AT_FDCWD, path, path);
    if (!text) {
        if (text.error().errno_value == ENOENT && missing_is_default) return Config{};
        throw ConfigError(path + ": cannot read: " + std::strerror(text.error().errno_value));
    }
    return parse_config(*text, path, online_cpus);
}

bool is_log_level(const std::string& level)
{
    return level == "debug" || level == "info" || level == "warning" || level == "error";
}

std::string describe(const Config& c)
{
    std::string s = "miner=" + c.miner.display() + " poll=" + seconds_text(c.poll_interval) +
                    " grace=" + seconds_text(c.grace_period) + " (up to " + seconds_text(c.grace_period_max) +
                    " on repeated freezes) debounce=" + seconds_text(c.stop_debounce) +
                    " stop=" + format_percent(c.stop_percent) + " resume=" + format_percent(c.resume_percent) +
                    " watched=";
    if (c.watched.empty()) return s + "(none)";
    for (std::size_t i = 0; i < c.watched.size(); ++i)
        s += (i ? "," : "") + c.watched[i].target.display() + ":" + c.watched[i].threshold_text;
    return s;
}

}  // namespace xap
