// The JSON configuration: defaults, every key, and every way to get it wrong.
#include "config/config.hpp"
#include "support/catch.hpp"
#include "temp_tree.hpp"

using namespace xap;
using namespace std::chrono_literals;

TEST_CASE("built-in defaults are the prototype's - plus a 200 ms poll", "[config]")
{
    const Config c = parse_config("{}", "t", 4);
    CHECK(c.grace_period == 15s);
    CHECK(c.stop_percent == 15.0);
    CHECK(c.resume_percent == 5.0);
    CHECK(c.miner.display() == "xmrig.service");
    CHECK(c.watched.empty());
    CHECK(c.poll_interval == 200ms);
    CHECK(c.stop_debounce == 300ms);
    CHECK(c.grace_period_max == 120s);
}

TEST_CASE("a missing default file means defaults - a missing given file is an error", "[config]")
{
    test::TempTree t;
    CHECK(load_config(t.path("nope.json"), true, 2).stop_percent == 15.0);
    CHECK_THROWS_AS(load_config(t.path("nope.json"), false, 2), ConfigError);
}

TEST_CASE("every key - with durations and thresholds in their accepted forms", "[config]")
{
    const Config c = parse_config(R"({
        "poll_interval": "250ms", "grace_period": 30, "grace_period_max": "5min", "stop_debounce": "0.5s",
        "stop_threshold": "1.5 cores", "resume_threshold": "5%", "miner": "/sandbox/miner",
        "watched": {"minecraft.service": "0.25 cores", "/sandbox/game": 2, "games.slice": "1 core"},
        "log_level": "debug"})",
                                  "t", 4);
    CHECK(c.poll_interval == 250ms);
    CHECK(c.grace_period == 30s);
    CHECK(c.grace_period_max == 300s);
    CHECK(c.stop_debounce == 500ms);
    CHECK(c.stop_percent == Approx(37.5));  // 1.5 of 4 cores
    CHECK(c.resume_percent == Approx(5.0));
    CHECK(c.miner == Target{Target::Kind::CgroupPath, "sandbox/miner"});
    REQUIRE(c.watched.size() == 3);
    CHECK(c.log_level == "debug");
    for (const auto& w : c.watched) {
        if (w.target.display() == "minecraft.service") CHECK(w.threshold_percent == Approx(6.25));
        if (w.target.display() == "/sandbox/game") CHECK(w.threshold_percent == Approx(2.0));
        if (w.target.display() == "games.slice") CHECK(w.threshold_percent == Approx(25.0));
    }
}

TEST_CASE("a larger grace period raises the default back-off cap with it", "[config]")
{
    CHECK(parse_config(R"({"grace_period": 300})", "t", 2).grace_period_max == 300s);
}

TEST_CASE("bad configurations are rejected with the JSON path of each problem", "[config]")
{
    struct Row {
        const char* json;
        const char* says;
    };
    const Row rows[] = {
        {R"({"stop_treshold": 20})", "/stop_treshold: unknown key"},
        {R"({"grace_period": "fifteen"})", "/grace_period: expected a duration"},
        {R"({"grace_period": "15 fortnights"})", "/grace_period: unknown duration unit"},
        {R"({"grace_period": -1})", "/grace_period: must not be negative"},
        {R"({"grace_period": true})", "/grace_period: expected a duration"},
        {R"({"poll_interval": 0})", "/poll_interval: must be between 10ms and 60s"},
        {R"({"poll_interval": "2min"})", "/poll_interval: must be between 10ms and 60s"},
        {R"({"stop_threshold": 120})", "/stop_threshold: must be between 0% and 100%"},
        {R"({"stop_threshold": -5})", "/stop_threshold: must be between 0% and 100%"},
        {R"({"stop_threshold": "9 cores"})", "/stop_threshold: must be between 0% and 100%"},
        {R"({"stop_threshold": "15 percent"})", "/stop_threshold: expected a percentage"},
        {R"({"stop_threshold": [15]})", "/stop_threshold: expected a number"},
        {R"({"stop_threshold": 0, "resume_threshold": 0})", "/stop_threshold: must be above 0%"},
        {R"({"resume_threshold": 15})", "/resume_threshold: must be below stop_threshold (15.0%)"},
        {R"({"stop_threshold": 10, "resume_threshold": 12})", "/resume_threshold: must be below"},
        {R"({"miner": 5})", "/miner: expected a unit name"},
        {R"({"miner": "xmrig"})", "/miner: \"xmrig\" is neither a unit name"},
        {R"({"miner": "/"})", "/miner: cgroup path \"/\" names the root cgroup"},
        {R"({"miner": "/a/../b"})", "contains \"..\""},
        {R"({"watched": {"xmrig.service": 5}})", "/watched/xmrig.service: is the miner itself"},
        {R"({"watched": {"system.slice": 5}})", "/watched/system.slice: contains the miner"},
        {R"({"miner": "/box/miner", "watched": {"/box": 5}})", "/watched/~1box: contains the miner"},
        {R"({"miner": "/box/miner", "watched": {"/box/miner/": 5}})", "is the miner itself"},
        {R"({"watched": ["a.service"]})", "/watched: expected an object"},
        {R"({"watched": {"a.service": "lots"}})", "/watched/a.service: expected a percentage"},
        {R"({"watched": {"a.service": 101}})", "/watched/a.service: must be between 0% and 100%"},
        {R"({"watched": {"a.service": 1, "/": 2}})", "names the root cgroup"},
        {R"({"watched": {"a.service": 1, "/system.slice/a.service": 2, "b.service": 1, "b.service": 3}})",
         "/watched/b.service: appears twice in its object"},
        {R"({"grace_period": 10, "watched": {"/x": 1, "/x": 2}, "grace_period": 20})",
         "/watched/~1x: appears twice in its object"},
        {R"({"grace_period": 10, "watched": {"a.service": 1}, "grace_period": 20})",
         "/grace_period: appears twice in its object"},
        {R"({"log_level": "loud"})", "/log_level: expected one of"},
        {R"([1, 2])", "the configuration must be a JSON object"},
        {R"({"grace_period": 15,})", "not valid JSON"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.json);
        try {
            parse_config(r.json, "/etc/x.json", 4);
            FAIL("accepted: " << r.json);
        } catch (const ConfigError& e) {
            const std::string msg = e.what();
            CAPTURE(msg);
            CHECK(msg.find("/etc/x.json") == 0);
            CHECK(msg.find(r.says) != std::string::npos);
        }
    }
}

TEST_CASE("all problems of a file are reported together", "[config]")
{
    try {
        parse_config(R"({"bogus": 1, "stop_threshold": 200, "grace_period": "x"})", "c.json", 2);
        FAIL("accepted");
    } catch (const ConfigError& e) {
        const std::string msg = e.what();
        CHECK(msg.find("/bogus") != std::string::npos);
        CHECK(msg.find("/stop_threshold") != std::string::npos);
        CHECK(msg.find("/grace_period") != std::string::npos);
    }
}

TEST_CASE("targets: unit names - cgroup paths and systemd's default cgroup layout", "[config]")
{
    struct Row {
        const char* text;
        const char* cgroup;
    };
    const Row rows[] = {
        {"xmrig.service", "system.slice/xmrig.service"},
        {"session-3.scope", "system.slice/session-3.scope"},
        {"games.slice", "games.slice"},
        {"games-minecraft.slice", "games.slice/games-minecraft.slice"},
        {"a-b-c.slice", "a.slice/a-b.slice/a-b-c.slice"},
        {"/sandbox/miner", "sandbox/miner"},
        {"//sandbox//miner/", "sandbox/miner"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.text);
        auto t = parse_target(r.text);
        REQUIRE(t.ok());
        CHECK(*default_cgroup_path(*t) == r.cgroup);
    }
    for (const char* bad : {"", "xmrig", "foo/bar.service", "-.slice", "/", "/.."}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_target(bad).ok());
    }
    CHECK(cgroup_contains("a", "a/b"));
    CHECK(cgroup_contains("a/b", "a/b"));
    CHECK_FALSE(cgroup_contains("a", "ab/c"));
    CHECK_FALSE(cgroup_contains("a/b", "a"));
}
