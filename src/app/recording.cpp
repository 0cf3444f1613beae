#include "app/recording.hpp"

#include <cstring>
#include <memory>

#include <nlohmann/json.hpp>

#include "policy/signal_meter.hpp"
#include "state/override_store.hpp"

namespace xap {
namespace {

using json = nlohmann::json;

json usage_json(const std::optional<CgroupUsage>& u)
{
    return u ? json::array({u->cgroup_id, u->usage_usec}) : json(nullptr);
}

std::optional<CgroupUsage> usage_from(const json& j)
{
    if (j.is_null()) return std::nullopt;
    return CgroupUsage{j.at(0).get<std::uint64_t>(), j.at(1).get<std::uint64_t>()};
}

const char* action_name(Action a)
{
    return a == Action::Freeze ? "freeze" : a == Action::Thaw ? "thaw" : "none";
}

Manual manual_from(const std::string& s)
{
    if (s == "pause") return Manual::Pause;
    if (s == "resume") return Manual::Resume;
    if (s == "auto") return Manual::Auto;
    throw std::runtime_error("unknown manual mode \"" + s + "\"");
}

bool read_line(std::FILE* in, std::string& line)
{
    line.clear();
    int c;
    while ((c = std::fgetc(in)) != EOF && c != '\n') line += static_cast<char>(c);
    return c != EOF || !line.empty();
}

}  // namespace

std::string header_line(const RecordingHeader& h)
{
    return json{{"xmrig_auto_pause_recording", 1}, {"clock_ticks", h.clock_ticks}, {"watched", h.watched}}.dump();
}

std::string tick_line(const RecordedTick& t)
{
    const RawSample& s = t.sample;
    const MinerState& m = s.miner;
    json services = json::array();
    for (const auto& u : s.services) services.push_back(usage_json(u));
    json j = {{"t", s.at.monotonic.count()},
              {"boot", s.at.boottime.count()},
              {"cpu", s.stat.aggregate.field},
              {"cpus", s.stat.online_cpus},
              {"miner",
               {{"present", m.present},
                {"populated", m.populated},
                {"active", m.active},
                {"stopping", m.stopping},
                {"freeze", m.freeze_requested},
                {"frozen", m.frozen},
                {"id", m.identity},
                {"invocation", m.invocation_id},
                {"systemd_freezer", m.systemd_freezer},
                {"usage", usage_json(m.usage)},
                {"why", m.not_running_reason}}},
              {"services", services},
              {"manual", to_string(t.manual)},
              {"claim", t.claim}};
    if (!t.measured) j["measured"] = false;
    if (t.decision && (t.decision->action != Action::None || t.decision->drop_claim))
        j["decision"] = {{"action", action_name(t.decision->action)},
                         {"reason", t.decision->reason},
                         {"drop", t.decision->drop_claim ? json(t.decision->drop_reason) : json(nullptr)}};
    return j.dump();
}

Result<RecordingHeader> parse_header_line(const std::string& line)
{
    try {
        const json j = json::parse(line);
        if (j.value("xmrig_auto_pause_recording", 0) != 1) throw std::runtime_error("not a recording header");
        RecordingHeader h;
        h.clock_ticks = j.at("clock_ticks").get<unsigned>();
        h.watched = j.at("watched").get<std::vector<std::string>>();
        return h;
    } catch (const std::exception& e) {
        return Error{0, std::string("line 1: ") + e.what()};
    }
}

Result<RecordedTick> parse_tick_line(const std::string& line, std::size_t services)
{
    try {
        const json j = json::parse(line);
        RecordedTick t;
        RawSample& s = t.sample;
        s.at.monotonic = Duration(j.at("t").get<std::int64_t>());
        s.at.boottime = Duration(j.at("boot").get<std::int64_t>());
        const auto cpu = j.at("cpu").get<std::vector<std::uint64_t>>();
        if (cpu.size() != CpuTimes::Count) throw std::runtime_error("cpu must have 10 numbers");
        std::copy(cpu.begin(), cpu.end(), s.stat.aggregate.field.begin());
        s.stat.online_cpus = j.at("cpus").get<unsigned>();
        const json& m = j.at("miner");
        s.miner.present = m.at("present").get<bool>();
        s.miner.populated = m.at("populated").get<bool>();
        s.miner.active = m.at("active").get<bool>();
        s.miner.stopping = m.at("stopping").get<bool>();
        s.miner.freeze_requested = m.at("freeze").get<bool>();
        s.miner.frozen = m.at("frozen").get<bool>();
        s.miner.identity = m.at("id").get<std::string>();
        s.miner.invocation_id = m.at("invocation").get<std::string>();
        s.miner.systemd_freezer = m.at("systemd_freezer").get<std::string>();
        s.miner.usage = usage_from(m.at("usage"));
        s.miner.not_running_reason = m.at("why").get<std::string>();
        const json& svc = j.at("services");
        if (svc.size() != services) throw std::runtime_error("expected " + std::to_string(services) + " services");
        for (const auto& u : svc) s.services.push_back(usage_from(u));
        t.manual = manual_from(j.at("manual").get<std::string>());
        t.claim = j.at("claim").get<bool>();
        t.measured = j.value("measured", true);
        if (j.contains("decision")) {
            const json& d = j.at("decision");
            Decision dec;
            const auto a = d.at("action").get<std::string>();
            dec.action = a == "freeze" ? Action::Freeze : a == "thaw" ? Action::Thaw : Action::None;
            dec.reason = d.at("reason").get<std::string>();
            dec.drop_claim = !d.at("drop").is_null();
            if (dec.drop_claim) dec.drop_reason = d.at("drop").get<std::string>();
            t.decision = dec;
        }
        return t;
    } catch (const std::exception& e) {
        return Error{0, e.what()};
    }
}

Result<std::unique_ptr<Recorder>> Recorder::open(const std::string& path, const RecordingHeader& header)
{
    std::FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "ae");
    if (!f) return Error{errno, "cannot open " + path + " for recording: " + std::strerror(errno)};
    std::unique_ptr<Recorder> r(new Recorder(f, path != "-"));
    if (std::fprintf(f, "%s\n", header_line(header).c_str()) < 0 || std::fflush(f) != 0)
        return Error{errno, "cannot write " + path + ": " + std::strerror(errno)};
    return r;
}

Recorder::~Recorder()
{
    if (owned_) std::fclose(f_);
}

Status Recorder::write(const RecordedTick& tick)
{
    if (std::fprintf(f_, "%s\n", tick_line(tick).c_str()) < 0 || std::fflush(f_) != 0)
        return Error{errno, std::string("cannot write the recording: ") + std::strerror(errno)};
    return Ok{};
}

double ReplaySummary::transitions_per_hour() const
{
    const double hours = std::chrono::duration<double>(span).count() / 3600.0;
    return hours > 0 ? static_cast<double>(freezes + thaws) / hours : 0.0;
}

Result<ReplaySummary> replay(std::FILE* in, const std::string& source, const Config& config,
                             const std::function<void(const ReplayEvent&)>& on_event)
{
    std::string line;
    if (!read_line(in, line)) return Error{0, source + ": empty recording"};
    auto header = parse_header_line(line);
    if (!header) return Error{0, source + ": " + header.error().message};

    // Watched services are matched by name: recorded but not configured is ignored, configured
    // but not recorded counts as not running.
    std::vector<std::optional<std::size_t>> column;
    auto match_columns = [&] {
        column.assign(config.watched.size(), std::nullopt);
        for (std::size_t i = 0; i < config.watched.size(); ++i)
            for (std::size_t k = 0; k < header->watched.size(); ++k)
                if (header->watched[k] == config.watched[i].target.display()) column[i] = k;
    };
    match_columns();

    std::optional<SignalMeter> meter(std::in_place, config.watched.size(), header->clock_ticks);
    std::optional<Controller> controller(std::in_place, config.policy());
    ClaimView claim;
    ReplaySummary sum;
    std::optional<Duration> first;
    Duration last{};
    bool segment_start = true;  // the time before a segment's first tick (a restart) is not counted
    std::size_t line_no = 1;
    while (read_line(in, line)) {
        ++line_no;
        if (line.empty()) continue;
        if (line.find("\"xmrig_auto_pause_recording\"") != std::string::npos) {
            // `run --record` appends: a daemon restart starts a new segment with fresh baselines and
            // a fresh controller, as the restarted daemon had; the replayed claim carries over.
            header = parse_header_line(line);
            if (!header) return Error{0, source + ": line " + std::to_string(line_no) + ": " + header.error().message};
            match_columns();
            meter.emplace(config.watched.size(), header->clock_ticks);
            controller.emplace(config.policy());
            segment_start = true;
            continue;
        }
        auto tick = parse_tick_line(line, header->watched.size());
        if (!tick) return Error{0, source + ": line " + std::to_string(line_no) + ": " + tick.error().message};
        RawSample s = tick->sample;
        std::vector<std::optional<CgroupUsage>> services(config.watched.size());
        for (std::size_t i = 0; i < column.size(); ++i)
            if (column[i]) services[i] = s.services[*column[i]];
        s.services = std::move(services);
        if (!first) {
            first = s.at.monotonic;
            if (tick->claim) claim = ClaimView{true, s.miner.identity, s.miner.invocation_id};
        }
        if (claim.held && !segment_start) sum.frozen += s.at.monotonic - last;
        segment_start = false;
        last = s.at.monotonic;
        // Our own freeze follows the replayed decisions; a foreign one stays as recorded.
        const bool foreign = s.miner.freeze_requested && !tick->claim;
        s.miner.freeze_requested = s.miner.frozen = claim.held || foreign;

        Window w;
        w.kind = WindowKind::Unmeasured;
        w.services.resize(config.watched.size());
        if (tick->measured) w = meter->measure(s);
        ++sum.ticks;
        if (w.kind == WindowKind::CounterReset || w.kind == WindowKind::Suspended) ++sum.dropped_windows;
        const Decision d = controller->step(w, s.miner, claim, s.at.monotonic, tick->manual);
        if (d.drop_claim) claim = ClaimView{};
        if (d.action == Action::Freeze) {
            claim = ClaimView{true, s.miner.identity, s.miner.invocation_id};
            ++sum.freezes;
        } else if (d.action == Action::Thaw) {
            claim = ClaimView{};
            ++sum.thaws;
        }
        if (d.action != Action::None || d.drop_claim) on_event({s.at.monotonic - *first, d});
    }
    if (first) sum.span = last - *first;
    return sum;
}

}  // namespace xap
