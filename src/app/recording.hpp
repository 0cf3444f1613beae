// Recording: the raw samples the daemon reads, one JSON object per line, so that a day of load can
// be replayed through the same policy code with other settings (`xmrig-auto-pause replay`).
//
//   {"xmrig_auto_pause_recording":1,"clock_ticks":100,"watched":["game.service"]}      <- header
//   {"t":123456789,"boot":123456789,"cpu":[4705,150,...],"cpus":2,"miner":{...},
//    "services":[[41,123456]],"manual":"auto","claim":false,"decision":{...}}         <- one per tick
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "policy/controller.hpp"
#include "util/result.hpp"

namespace xap {

struct RecordedTick {
    RawSample sample;
    bool measured = true;  // false: an event tick that only re-decided
    Manual manual = Manual::Auto;
    bool claim = false;                // whether the live daemon held a claim at this tick
    std::optional<Decision> decision;  // what the live daemon decided (absent for `record` runs)
};

struct RecordingHeader {
    unsigned clock_ticks = 100;
    std::vector<std::string> watched;  // names, in the order of RawSample::services
};

// Appends lines to a file (or stdout for "-"), flushed per tick.
class Recorder {
public:
    static Result<std::unique_ptr<Recorder>> open(const std::string& path, const RecordingHeader& header);
    ~Recorder();
    Status write(const RecordedTick& tick);

private:
    explicit Recorder(std::FILE* f, bool owned) : f_(f), owned_(owned) {}
    std::FILE* f_;
    bool owned_;
};

std::string header_line(const RecordingHeader& h);
std::string tick_line(const RecordedTick& t);
Result<RecordingHeader> parse_header_line(const std::string& line);
Result<RecordedTick> parse_tick_line(const std::string& line, std::size_t services);

struct ReplayEvent {
    Duration at;  // since the first sample
    Decision decision;
};

struct ReplaySummary {
    std::size_t ticks = 0;
    std::size_t dropped_windows = 0;
    std::size_t freezes = 0;
    std::size_t thaws = 0;
    Duration span{};
    Duration frozen{};
    [[nodiscard]] double transitions_per_hour() const;
};

// Runs SignalMeter and Controller over a recording with `config`. The claim and the miner's
// freeze flags follow the replayed decisions (not the recorded ones), so other settings play out
// as they would have; with the live settings the decisions are the live ones.
Result<ReplaySummary> replay(std::FILE* in, const std::string& source, const Config& config,
                             const std::function<void(const ReplayEvent&)>& on_event);

}  // namespace xap
