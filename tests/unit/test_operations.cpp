// Manual overrides, the status report and metrics, and record/replay.
#include <cstdio>

#include "app/recording.hpp"
#include "app/status.hpp"
#include "policy/signal_meter.hpp"
#include "policy_sim.hpp"
#include "state/override_store.hpp"
#include "support/catch.hpp"
#include "temp_tree.hpp"

using namespace xap;
using namespace xap::test;

TEST_CASE("manual pause freezes at once and holds - resume thaws at once and holds", "[operations]")
{
    PolicySim sim(fast_settings());
    SECTION("pause")
    {
        Window quiet;
        quiet.kind = WindowKind::Unmeasured;
        Decision d = sim.controller.step(quiet, sim.miner, sim.claim, sim.now, Manual::Pause);
        REQUIRE(d.action == Action::Freeze);
        CHECK(d.reason == "manual pause");
        sim.claim = ClaimView{true, sim.miner.identity, ""};
        sim.miner.freeze_requested = true;
        for (int i = 0; i < 30; ++i) {
            Window w;
            w.kind = WindowKind::Valid;
            w.length = 1s;
            w.system_percent = 0;
            sim.now += 1s;
            CHECK(sim.controller.step(w, sim.miner, sim.claim, sim.now, Manual::Pause).action == Action::None);
        }
        // Quiet time accrued during the pause counts once it ends: the thaw is immediate.
        Window w;
        w.kind = WindowKind::Valid;
        w.length = 1s;
        CHECK(sim.controller.step(w, sim.miner, sim.claim, sim.now + 1s, Manual::Auto).action == Action::Thaw);
    }
    SECTION("resume")
    {
        REQUIRE(sim.until(Action::Freeze, 90, 5) == 2);
        Window busy;
        busy.kind = WindowKind::Valid;
        busy.length = 1s;
        busy.system_percent = 90;
        const Decision d = sim.controller.step(busy, sim.miner, sim.claim, sim.now + 1s, Manual::Resume);
        CHECK(d.action == Action::Thaw);
        CHECK(d.reason == "manual resume");
        sim.claim = ClaimView{};
        sim.miner.freeze_requested = false;
        for (int i = 2; i < 20; ++i)
            CHECK(sim.controller.step(busy, sim.miner, sim.claim, sim.now + i * 1s, Manual::Resume).action ==
                  Action::None);
    }
    SECTION("a pause never takes over a foreign freeze, nor freezes a stopped miner")
    {
        Window w;
        w.kind = WindowKind::Unmeasured;
        sim.miner.freeze_requested = true;
        CHECK(sim.controller.step(w, sim.miner, sim.claim, sim.now, Manual::Pause).action == Action::None);
        sim.miner.freeze_requested = false;
        sim.miner.populated = false;
        CHECK(sim.controller.step(w, sim.miner, sim.claim, sim.now, Manual::Pause).action == Action::None);
    }
    SECTION("a paused miner that starts stopping is thawed anyway")
    {
        sim.claim = ClaimView{true, sim.miner.identity, ""};
        sim.miner.freeze_requested = true;
        sim.miner.stopping = true;
        Window w;
        w.kind = WindowKind::Unmeasured;
        CHECK(sim.controller.step(w, sim.miner, sim.claim, sim.now, Manual::Pause).action == Action::Thaw);
    }
}

TEST_CASE("an unmeasured (event) tick neither breaks a debounce streak nor grants quiet time", "[operations]")
{
    PolicySim sim(fast_settings());
    sim.window(90);
    Window ev;
    ev.kind = WindowKind::Unmeasured;
    CHECK(sim.apply(ev).action == Action::None);
    CHECK(sim.window(90).action == Action::Freeze);
}

TEST_CASE("overrides persist with their expiry", "[operations]")
{
    TempTree t;
    OverrideStore store(t.root().string());
    CHECK(store.load()->mode == Manual::Auto);
    REQUIRE(store.save({Manual::Pause, 1000, 900}).ok());
    auto o = store.load();
    REQUIRE(o.ok());
    CHECK(o->mode == Manual::Pause);
    CHECK(active_mode(*o, 999) == Manual::Pause);
    CHECK(active_mode(*o, 1000) == Manual::Auto);
    REQUIRE(store.save({Manual::Resume, std::nullopt, 900}).ok());
    CHECK(active_mode(*store.load(), 1'000'000'000) == Manual::Resume);
    REQUIRE(store.clear().ok());
    CHECK(store.load()->mode == Manual::Auto);
    t.write("override.json", R"({"mode": "sleep"})");
    auto bad = store.load();
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("override.json: malformed override") != std::string::npos);
}

TEST_CASE("the status report round-trips through JSON and renders as Prometheus text", "[operations]")
{
    StatusReport s;
    s.state = "frozen";
    s.since_unix = 1000;
    s.reason = "system CPU 40.0% > stop 15.0%";
    s.reason_unix = 1000;
    s.miner = "/sys/fs/cgroup/system.slice/xmrig.service";
    s.system_percent = 40;
    s.miner_percent = 2.5;
    s.watched = {{"game.service", 3.5}, {"media \"x\".service", std::nullopt}};
    s.counters = {3, 2, 7, 125.5};
    s.manual = "pause";
    s.manual_until = 2000;
    s.pid = 42;
    s.updated_unix = 1010;
    const StatusReport r = status_from_json(to_json(s));
    CHECK(r.state == s.state);
    CHECK(r.watched == s.watched);
    CHECK(r.counters.frozen_seconds == 125.5);
    CHECK(r.manual_until == s.manual_until);
    CHECK(one_line(r).starts_with("frozen since "));
    CHECK(one_line(r).find("[manual pause until") != std::string::npos);

    const std::string prom = prometheus_text(s);
    CHECK(prom.find("# TYPE xmrig_auto_pause_freezes_total counter\n") != std::string::npos);
    CHECK(prom.find("xmrig_auto_pause_state{miner=\"/sys/fs/cgroup/system.slice/xmrig.service\",state=\"frozen\"} "
                    "1.000000\n") != std::string::npos);
    CHECK(prom.find("xmrig_auto_pause_watched_cpu_ratio{service=\"game.service\"} 0.035000\n") != std::string::npos);
    CHECK(prom.find("media") == std::string::npos);  // not measurable now: no sample rather than a fake 0
    CHECK(prom.find("xmrig_auto_pause_system_cpu_ratio 0.400000\n") != std::string::npos);
    // Every sample line belongs to a metric announced by HELP and TYPE just before.
    std::string family;
    for (std::size_t at = 0; at < prom.size();) {
        const std::size_t nl = prom.find('\n', at);
        const std::string line = prom.substr(at, nl - at);
        at = nl + 1;
        if (line.starts_with("# TYPE "))
            family = line.substr(7, line.find(' ', 7) - 7);
        else if (!line.starts_with("#"))
            CHECK(line.starts_with(family));
    }
}

TEST_CASE("a recording replays to the decisions that were made live", "[operations]")
{
    // A live-like loop over synthetic counters: idle, a 3 s burst, light service load, a manual pause.
    PolicySettings settings = fast_settings();
    Config config;
    config.poll_interval = settings.poll_interval;
    config.grace_period = settings.grace_period;
    config.grace_period_max = settings.grace_period_max;
    config.stop_debounce = settings.stop_debounce;
    config.watched.push_back({*parse_target("game.service"), 2.0, "2%"});

    TempTree t;
    const std::string file = t.path("rec.jsonl");
    std::vector<std::pair<Action, std::string>> live;
    {
        auto rec = Recorder::open(file, {100, {"game.service"}});
        REQUIRE(rec.ok());
        SignalMeter meter(1, 100);
        Controller controller(config.policy());
        MinerState miner;
        miner.present = miner.populated = true;
        miner.identity = "cgroup-id:9";
        ClaimView claim;
        CpuTimes cpu;
        std::uint64_t game = 0;
        for (int i = 0; i < 60; ++i) {
            const bool burst = i >= 5 && i < 8;
            const bool light = i >= 20 && i < 24;
            cpu.field[CpuTimes::User] += burst ? 150 : 5;
            cpu.field[CpuTimes::Idle] += burst ? 50 : 195;
            game += light ? 60'000 : 0;
            RawSample s;
            s.at = {Duration(std::chrono::seconds(100 + i)), Duration(std::chrono::seconds(100 + i))};
            s.stat = {cpu, 2};
            miner.freeze_requested = miner.frozen = claim.held;
            s.miner = miner;
            s.miner.usage = CgroupUsage{9, 1000};
            s.services = {CgroupUsage{5, game}};
            const Manual manual = i >= 40 && i < 43 ? Manual::Pause : Manual::Auto;
            const Window w = meter.measure(s);
            const Decision d = controller.step(w, s.miner, claim, s.at.monotonic, manual);
            REQUIRE(rec.value()->write({s, true, manual, claim.held, d}).ok());
            if (d.action == Action::Freeze) claim = ClaimView{true, miner.identity, ""};
            if (d.action == Action::Thaw) claim = ClaimView{};
            if (d.action != Action::None) live.emplace_back(d.action, d.reason);
        }
    }
    REQUIRE(live.size() >= 6);  // freeze/thaw for the burst, the service, the pause

    std::vector<std::pair<Action, std::string>> replayed;
    std::FILE* in = std::fopen(file.c_str(), "r");
    auto sum = replay(in, file, config, [&](const ReplayEvent& e) {
        if (e.decision.action != Action::None) replayed.emplace_back(e.decision.action, e.decision.reason);
    });
    std::fclose(in);
    REQUIRE(sum.ok());
    CHECK(replayed == live);
    CHECK(sum->ticks == 60);
    CHECK(sum->freezes * 2 == live.size());
    CHECK(sum->span == 59s);

    // Other settings play out differently: a higher service threshold skips the service freeze.
    Config relaxed = config;
    relaxed.watched[0].threshold_percent = 50;
    std::size_t freezes = 0;
    in = std::fopen(file.c_str(), "r");
    auto other =
        replay(in, file, relaxed, [&](const ReplayEvent& e) { freezes += e.decision.action == Action::Freeze; });
    std::fclose(in);
    REQUIRE(other.ok());
    CHECK(freezes == sum->freezes - 1);
}

TEST_CASE("a malformed recording is an error naming the line", "[operations]")
{
    TempTree t;
    t.write("bad.jsonl", header_line({100, {}}) + "\n{\"t\": 1}\n");
    std::FILE* in = std::fopen(t.path("bad.jsonl").c_str(), "r");
    auto r = replay(in, "bad.jsonl", Config{}, [](const ReplayEvent&) {});
    std::fclose(in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("bad.jsonl: line 2") == 0);
}

TEST_CASE("a recording appended by a restarted daemon replays in segments, each with fresh baselines", "[operations]")
{
    Config config;  // defaults: 15 % stop, 0.3 s debounce
    config.watched.push_back({*parse_target("game.service"), 2.0, "2%"});
    TempTree t;
    const std::string file = t.path("rec.jsonl");
    // Ticks 1 s apart on 2 CPUs (200 clock ticks a window); `busy` ticks are 75 % user time.
    auto segment = [&](std::int64_t start_s, int ticks, int busy_from, std::uint64_t user0) {
        auto rec = Recorder::open(file, {100, {"game.service"}});
        REQUIRE(rec.ok());
        CpuTimes cpu;
        cpu.field[CpuTimes::User] = user0;
        for (int i = 0; i < ticks; ++i) {
            const bool busy = i >= busy_from;
            cpu.field[CpuTimes::User] += busy ? 150 : 2;
            cpu.field[CpuTimes::Idle] += busy ? 50 : 198;
            RawSample s;
            s.at = {Duration(std::chrono::seconds(start_s + i)), Duration(std::chrono::seconds(start_s + i))};
            s.stat = {cpu, 2};
            s.miner.present = s.miner.populated = true;
            s.miner.identity = "cgroup-id:9";
            s.miner.usage = CgroupUsage{9, 1000};
            s.services = {CgroupUsage{5, 0}};
            REQUIRE(rec.value()->write({s, true, Manual::Auto, false, std::nullopt}).ok());
        }
    };
    segment(100, 10, 100, 1'000'000);  // idle
    segment(500, 6, 2, 0);             // after a restart: counters from another boot-time origin, then busy

    std::vector<Duration> freezes;
    std::FILE* in = std::fopen(file.c_str(), "r");
    auto sum = replay(in, file, config, [&](const ReplayEvent& e) {
        if (e.decision.action == Action::Freeze) freezes.push_back(e.at);
    });
    std::fclose(in);
    REQUIRE(sum.ok());
    CHECK(sum->ticks == 16);
    CHECK(sum->dropped_windows == 0);  // a lower counter after the header is a new baseline, not a reset
    REQUIRE(freezes.size() == 1);
    CHECK(freezes[0] == std::chrono::seconds(500 + 2 - 100));  // one 1 s window outlasts the 0.3 s debounce
    CHECK(sum->frozen == 3s);                                  // ticks 2..5 of the second segment, no gap
}
