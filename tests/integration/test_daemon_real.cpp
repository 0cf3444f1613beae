// The daemon against real cgroups and real load: a nice-19 miner stand-in in a scratch cgroup,
// real busy loops outside it, the daemon as a subprocess, everything observed through the kernel.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "real_cgroup.hpp"
#include "support/catch.hpp"
#include "temp_tree.hpp"

using namespace xap::test;

namespace {

constexpr auto kPoll = 200ms;
constexpr auto kGrace = 1500ms;
// In cores, so that the one-core loads below cross them on any machine size, and so that a shared
// CI machine's background (up to a quarter of a core) neither freezes the miner nor keeps it frozen.
constexpr const char* kStop = "0.5 cores";
constexpr const char* kResume = "0.25 cores";

std::string seconds(std::chrono::milliseconds d)
{
    return std::to_string(static_cast<double>(d.count()) / 1000.0);
}

// One scratch cgroup tree with a miner running in it, and a place for the daemon's files.
struct Bench {
    ScratchCgroup cg;
    TempTree tmp;
    std::unique_ptr<Process> miner;

    explicit Bench(int miner_nice = 19)
    {
        cg.make("miner");
        cg.make("fg");
        cg.make("game");
        tmp.mkdir("state");
        miner = std::make_unique<Process>(
            std::vector<std::string>{XAP_MINER_STANDIN, "--threads", "2", "--scratchpad-kib", "2048", "--nice",
                                     std::to_string(miner_nice), "--report-interval", "1"},
            cg.abs("miner") + "/cgroup.procs", tmp.path("miner.log"));
        REQUIRE(
            wait_until([&] { return cg.read("miner", "cgroup.events").find("populated 1") != std::string::npos; }, 5s));
    }

    std::string config(const std::string& watched_json = "{}") const
    {
        const std::string path = tmp.path("config.json");
        std::ofstream(path) << R"({"poll_interval": ")" << kPoll.count() << R"(ms", "stop_debounce": ")"
                            << (2 * kPoll).count() << R"(ms", "grace_period": )" << seconds(kGrace)
                            << R"(, "grace_period_max": )" << seconds(kGrace) << R"(, "stop_threshold": ")" << kStop
                            << R"(", "resume_threshold": ")" << kResume << R"(", "miner": ")" << cg.config_path("miner")
                            << R"(", "watched": )" << watched_json << "}";
        return path;
    }

    std::unique_ptr<Process> daemon(const std::string& config_path, std::vector<std::string> extra = {}) const
    {
        std::vector<std::string> argv = {XAP_DAEMON,        "--config",    config_path, "--state-dir",
                                         tmp.path("state"), "--log-level", "debug"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        const std::size_t started = count("watching with ");
        auto p = std::make_unique<Process>(argv, "", tmp.path("daemon.log"));
        // Started once it has measured its first window (logged each tick at debug level).
        REQUIRE(wait_until([&] { return count("watching with ") > started; }, 10s));
        ticks(1);
        return p;
    }

    std::unique_ptr<Process> load(const std::string& child, std::vector<std::string> args) const
    {
        std::vector<std::string> argv = {XAP_CPU_LOAD};
        argv.insert(argv.end(), args.begin(), args.end());
        return std::make_unique<Process>(argv, cg.abs(child) + "/cgroup.procs", tmp.path("load.log"));
    }

    [[nodiscard]] std::string log() const { return read_text(tmp.path("daemon.log")); }
    [[nodiscard]] bool claim_exists() const { return file_exists(tmp.path("state/claim.json")); }
    [[nodiscard]] bool frozen() const { return cg.frozen("miner"); }
    [[nodiscard]] std::size_t count(const std::string& needle) const
    {
        const std::string l = log();
        std::size_t n = 0;
        for (auto at = l.find(needle); at != std::string::npos; at = l.find(needle, at + 1)) ++n;
        return n;
    }
    // Waits for `n` more ticks to be logged: time measured in the daemon's own windows.
    void ticks(std::size_t n) const
    {
        const std::size_t start = count("window ");
        REQUIRE(wait_until([&] { return count("window ") >= start + n; }, 30s));
    }
};

std::chrono::milliseconds since(SteadyClock::time_point t)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t);
}

}  // namespace

TEST_CASE("system load outside the miner freezes it within 3 poll intervals - quiet thaws it after the grace period",
          "[real-cgroup]")
{
    Bench b;
    auto d = b.daemon(b.config());
    b.ticks(3);
    REQUIRE_FALSE(b.frozen());

    const auto onset = SteadyClock::now();
    auto fg = b.load("fg", {"--threads", "1"});
    REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
    const auto reaction = since(onset);
    std::printf("reaction: frozen %lld ms after load onset (poll %lld ms)\n", static_cast<long long>(reaction.count()),
                static_cast<long long>(kPoll.count()));
    // 3 windows, plus scheduling slack on a shared 2-CPU machine.
    CHECK(reaction <= 3 * kPoll + 300ms);
    CHECK(b.claim_exists());
    CHECK(b.log().find("freezing " + b.cg.abs("miner") + ": system CPU") != std::string::npos);

    fg->signal(SIGKILL);
    fg->wait();
    const auto quiet = SteadyClock::now();
    REQUIRE(wait_until([&] { return !b.frozen(); }, 15s));
    const auto thaw = since(quiet);
    std::printf("thaw: %lld ms after the load ended (grace %lld ms)\n", static_cast<long long>(thaw.count()),
                static_cast<long long>(kGrace.count()));
    // Quiet is judged per window: the window in which the load ended is quiet when the load left
    // early enough in it, so the thaw may come up to one window early.
    CHECK(thaw >= kGrace - kPoll);
    // The claim goes after the thaw (a crash in between leaves a claim to recover, never an
    // unowned freeze), so the log line and the claim's removal follow the effect by a moment.
    CHECK(wait_until([&] { return b.log().find("thawing " + b.cg.abs("miner") + ": quiet for") != std::string::npos; },
                     2s));
    CHECK_FALSE(b.claim_exists());

    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
}

TEST_CASE("a watched cgroup's light load, below the system threshold, freezes the miner", "[real-cgroup]")
{
    Bench b;
    auto d = b.daemon(b.config("{\"" + b.cg.config_path("game") + "\": \"0.05 cores\"}"));
    b.ticks(3);
    // 12% of one core: above the service's 0.05 cores, far below the system's 0.5-core stop threshold.
    auto game = b.load("game", {"--duty", "12", "--period-ms", "10"});
    REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
    CHECK(b.log().find("freezing " + b.cg.abs("miner") + ": watched " + b.cg.config_path("game")) != std::string::npos);
    CHECK(b.log().find("system CPU") == std::string::npos);  // the service signal alone did it
    game->signal(SIGKILL);
    game->wait();
    REQUIRE(wait_until([&] { return !b.frozen(); }, 15s));
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
}

TEST_CASE("SIGTERM while frozen thaws the miner and exits 0", "[real-cgroup]")
{
    Bench b;
    auto d = b.daemon(b.config());
    auto fg = b.load("fg", {"--threads", "1"});
    REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
    CHECK_FALSE(b.frozen());
    CHECK(b.cg.read("miner", "cgroup.freeze") == "0\n");
    CHECK_FALSE(b.claim_exists());
    CHECK(b.log().find("exiting: thawed") != std::string::npos);
}

TEST_CASE("SIGKILL while frozen: the restarted daemon recovers its claim and thaws once idle", "[real-cgroup]")
{
    Bench b;
    const std::string config = b.config();
    {
        auto d = b.daemon(config);
        auto fg = b.load("fg", {"--threads", "1"});
        REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
        d->signal(SIGKILL);
        CHECK(d->wait() == 128 + SIGKILL);
    }
    // The load is gone (its Process was destroyed) and the dead daemon left its freeze and claim.
    CHECK(b.frozen());
    CHECK(b.claim_exists());
    auto d = b.daemon(config);
    CHECK(b.log().find("found our claim from a previous run") != std::string::npos);
    REQUIRE(wait_until([&] { return !b.frozen(); }, 15s));
    CHECK(wait_until([&] { return !b.claim_exists(); }, 2s));  // removed just after the thaw
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
}

TEST_CASE("`release` (the unit's ExecStopPost= safety net) thaws the freeze a killed daemon left", "[real-cgroup]")
{
    Bench b;
    const std::string config = b.config();
    {
        auto d = b.daemon(config);
        auto fg = b.load("fg", {"--threads", "1"});
        REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
        d->signal(SIGKILL);
        d->wait();
    }
    REQUIRE(b.frozen());
    Process release({XAP_DAEMON, "--config", config, "--state-dir", b.tmp.path("state"), "release"}, "",
                    b.tmp.path("release.log"));
    CHECK(release.wait() == 0);
    CHECK_FALSE(b.frozen());
    CHECK_FALSE(b.claim_exists());
}

TEST_CASE("a miner frozen by someone else is never claimed and stays frozen after the daemon exits", "[real-cgroup]")
{
    Bench b;
    b.cg.write("miner", "cgroup.freeze", "1");
    REQUIRE(wait_until([&] { return b.frozen(); }, 5s));
    auto d = b.daemon(b.config());
    auto fg = b.load("fg", {"--threads", "1"});
    REQUIRE(wait_until([&] { return b.log().find("frozen by someone else") != std::string::npos; }, 10s));
    b.ticks(5);
    CHECK_FALSE(b.claim_exists());
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
    CHECK(b.frozen());
    CHECK(b.cg.read("miner", "cgroup.freeze") == "1\n");
}

TEST_CASE("someone else thawing our freeze drops our claim - pressure freezes again", "[real-cgroup]")
{
    Bench b;
    auto d = b.daemon(b.config());
    auto fg = b.load("fg", {"--threads", "1"});
    REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
    b.cg.write("miner", "cgroup.freeze", "0");
    REQUIRE(wait_until([&] { return b.log().find("someone else thawed the miner") != std::string::npos; }, 10s));
    REQUIRE(wait_until([&] { return b.count("freezing ") >= 2 && b.frozen(); }, 10s));
    CHECK(b.claim_exists());
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
    CHECK_FALSE(b.frozen());
}

TEST_CASE("the miner's own CPU never freezes it, at nice 19 or nice 0", "[real-cgroup]")
{
    for (int nice : {19, 0}) {
        CAPTURE(nice);
        Bench b(nice);
        auto d = b.daemon(b.config());
        b.ticks(20);  // 4 s of a miner on every CPU
        INFO("daemon log:\n" << b.log());
        CHECK(b.count("freezing ") == 0);
        CHECK_FALSE(b.frozen());
        d->signal(SIGTERM);
        CHECK(d->wait() == 0);
    }
}

TEST_CASE("a watched cgroup that vanishes and comes back is re-measured without a false freeze", "[real-cgroup]")
{
    Bench b;
    auto d = b.daemon(b.config("{\"" + b.cg.config_path("game") + "\": \"0.05 cores\"}"));
    {
        auto game = b.load("game", {"--duty", "1"});
        b.ticks(3);
    }
    b.cg.remove("game");
    b.ticks(3);
    b.cg.make("game");
    // A recreated cgroup with a busy history would look like a huge delta: it must read as a restart.
    auto burst = b.load("game", {"--duty", "100", "--duration", "0.3"});
    burst->wait();
    b.ticks(3);
    CHECK(b.count("freezing ") <= 1);  // the 0.3 s burst itself may legitimately count once
    CHECK(b.log().find("error") == std::string::npos);
    auto game = b.load("game", {"--duty", "12"});
    REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
}

TEST_CASE("a miner cgroup removed while frozen: the claim is dropped, the daemon keeps running", "[real-cgroup]")
{
    Bench b;
    auto d = b.daemon(b.config());
    auto fg = b.load("fg", {"--threads", "1"});
    REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
    b.cg.remove("miner");
    REQUIRE(wait_until([&] { return b.log().find("the miner's cgroup is gone") != std::string::npos; }, 10s));
    CHECK_FALSE(b.claim_exists());
    REQUIRE(wait_until([&] { return b.log().find("the miner is not running") != std::string::npos; }, 10s));
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
}

namespace {

int cli(const Bench& b, std::vector<std::string> args, const std::string& log = "cli.log")
{
    std::vector<std::string> argv = {XAP_DAEMON, "--state-dir", b.tmp.path("state")};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p(argv, "", b.tmp.path(log));
    return p.wait();
}

}  // namespace

TEST_CASE("pause and resume from the command line act at once, persist across restarts, and expire",
          "[real-cgroup][operations]")
{
    Bench b;
    const std::string config = b.config();
    auto d = b.daemon(config);
    const auto asked = SteadyClock::now();
    REQUIRE(cli(b, {"pause"}) == 0);
    REQUIRE(wait_until([&] { return b.frozen(); }, 5s));
    std::printf("manual pause: frozen %lld ms after the command\n", static_cast<long long>(since(asked).count()));
    CHECK(since(asked) < kPoll + 500ms);  // inotify, not the next poll
    CHECK(b.log().find("freezing " + b.cg.abs("miner") + ": manual pause") != std::string::npos);

    // A restart keeps the pause: the override is on disk, the claim is recovered.
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
    CHECK_FALSE(b.frozen());  // SIGTERM thaws what it owns
    d = b.daemon(config);
    REQUIRE(wait_until([&] { return b.frozen(); }, 5s));

    // Resume holds the miner running under load.
    REQUIRE(cli(b, {"resume", "--for", "1min"}) == 0);
    REQUIRE(wait_until([&] { return !b.frozen(); }, 5s));
    auto fg = b.load("fg", {"--threads", "2"});
    b.ticks(6);
    CHECK_FALSE(b.frozen());
    REQUIRE(cli(b, {"status", "--json"}, "status.json.out") == 0);
    const std::string status = read_text(b.tmp.path("status.json.out"));
    CHECK(status.find("\"mode\": \"resume\"") != std::string::npos);
    CHECK(status.find("\"daemon_running\": true") != std::string::npos);

    // Back to automatic: the load freezes it.
    REQUIRE(cli(b, {"auto"}) == 0);
    REQUIRE(wait_until([&] { return b.frozen(); }, 5s));
    fg.reset();

    // A bounded pause expires by itself.
    REQUIRE(wait_until([&] { return !b.frozen(); }, 15s));
    REQUIRE(cli(b, {"pause", "--for", "1s"}) == 0);
    REQUIRE(wait_until([&] { return b.frozen(); }, 5s));
    REQUIRE(wait_until([&] { return b.log().find("manual pause expired") != std::string::npos; }, 5s));
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
}

TEST_CASE("status, metrics, and a live recording that replays to the same decisions", "[real-cgroup][operations]")
{
    Bench b;
    const std::string prom = b.tmp.path("metrics/xap.prom");
    b.tmp.mkdir("metrics");
    const std::string config = b.tmp.path("config-metrics.json");
    {
        std::string base = read_text(b.config("{\"" + b.cg.config_path("game") + "\": \"0.05 cores\"}"));
        base.insert(base.find('{') + 1, "\"metrics_file\": \"" + prom + "\", ");
        std::ofstream(config) << base;
    }
    const std::string recording = b.tmp.path("rec.jsonl");
    auto d = b.daemon(config, {"--record", recording});
    {
        auto fg = b.load("fg", {"--threads", "1"});
        REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
        CHECK(read_text(prom).find("state=\"frozen\"} 1") != std::string::npos);
        REQUIRE(cli(b, {"status"}, "status.out") == 0);
        CHECK(read_text(b.tmp.path("status.out")).find("state:    frozen since") != std::string::npos);
    }
    REQUIRE(wait_until([&] { return !b.frozen(); }, 15s));
    {
        auto game = b.load("game", {"--duty", "12"});
        REQUIRE(wait_until([&] { return b.frozen(); }, 10s));
    }
    REQUIRE(wait_until([&] { return !b.frozen(); }, 15s));
    d->signal(SIGTERM);
    CHECK(d->wait() == 0);
    CHECK(read_text(prom).find("xmrig_auto_pause_freezes_total{") != std::string::npos);

    // The live decisions, as recorded, against the replayed ones.
    std::vector<std::string> live;
    {
        std::ifstream in(recording);
        for (std::string line; std::getline(in, line);) {
            const auto at = line.find("\"decision\":");
            if (at == std::string::npos) continue;
            const auto a = line.find("\"action\":\"", at) + 10;
            const auto r = line.find("\"reason\":\"", at) + 10;
            const std::string action = line.substr(a, line.find('"', a) - a);
            if (action != "none") live.push_back(action + " " + line.substr(r, line.find('"', r) - r));
        }
    }
    REQUIRE(live.size() == 4);
    REQUIRE(cli(b, {"--config", config, "replay", recording}, "replay.out") == 0);
    std::vector<std::string> replayed;
    {
        std::ifstream in(b.tmp.path("replay.out"));
        for (std::string line; std::getline(in, line);) {
            std::istringstream words(line);
            std::string t, action;
            words >> t >> action;
            if (action != "freeze" && action != "thaw") continue;
            std::string reason;
            std::getline(words, reason);
            replayed.push_back(action + " " + reason.substr(reason.find_first_not_of(' ')));
        }
    }
    CHECK(replayed == live);
    CHECK(read_text(b.tmp.path("replay.out")).find("2 freezes, 2 thaws") != std::string::npos);
}
