// systemd's view of the miner: unit states, systemd's own freezer, InvocationID-keyed claims.
#include "policy_sim.hpp"
#include "support/catch.hpp"
#include "systemd/unit_info.hpp"

using namespace xap;
using namespace xap::test;

TEST_CASE("unit states decide whether the miner may be frozen - and when a freeze must be undone", "[systemd]")
{
    struct Row {
        const char* load;
        const char* active;
        bool freezable;  // running() after the overlay
        bool stopping;   // a freeze of ours is undone at once
    };
    const Row rows[] = {
        {"loaded", "active", true, false},       {"loaded", "activating", false, false},
        {"loaded", "deactivating", false, true}, {"loaded", "reloading", false, true},
        {"loaded", "inactive", false, false},    {"loaded", "failed", false, false},
        {"not-found", "inactive", false, false}, {"masked", "inactive", false, false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.load, r.active);
        MinerState m;
        m.present = m.populated = true;
        UnitInfo u;
        u.load_state = r.load;
        u.active_state = r.active;
        u.freezer_state = "running";
        apply_unit_state(m, "xmrig.service", u);
        CHECK(m.running() == r.freezable);
        CHECK(m.stopping == r.stopping);
        if (!r.freezable) CHECK(m.not_running_reason.find("xmrig.service") == 0);
    }
}

TEST_CASE("ControlGroup maps to a path under the mount - empty means no cgroup now - never the root", "[systemd]")
{
    UnitInfo u;
    u.control_group = "/system.slice/xmrig.service";
    CHECK(unit_cgroup_path(u) == "system.slice/xmrig.service");
    u.control_group = "";
    CHECK(unit_cgroup_path(u).empty());
    u.control_group = "/";
    CHECK(unit_cgroup_path(u).empty());
    CHECK(unit_type_interface("xmrig.service") == "org.freedesktop.systemd1.Service");
    CHECK(unit_type_interface("games.slice") == "org.freedesktop.systemd1.Slice");
    CHECK(unit_type_interface("session-1.scope") == "org.freedesktop.systemd1.Scope");
}

TEST_CASE("a deactivating miner frozen by us is thawed at once - whatever the load", "[systemd]")
{
    PolicySim sim(fast_settings());
    REQUIRE(sim.until(Action::Freeze, 90, 5) == 2);
    UnitInfo u{"loaded", "deactivating", "stop-sigterm", "running", "/system.slice/xmrig.service", "ab", 42};
    apply_unit_state(sim.miner, "xmrig.service", u);
    const Decision d = sim.window(90);
    CHECK(d.action == Action::Thaw);
    CHECK(d.reason.find("deactivating") != std::string::npos);
}

TEST_CASE("systemd's own freeze is left alone and supersedes a claim of ours", "[systemd]")
{
    SECTION("not claimed: never frozen over, never thawed")
    {
        PolicySim sim(fast_settings());
        sim.miner.systemd_freezer = "frozen";
        sim.miner.freeze_requested = sim.miner.frozen = true;
        bool said = false;
        for (int i = 0; i < 20; ++i) {
            const Decision d = sim.window(i % 3 ? 90 : 1);
            CHECK(d.action == Action::None);
            said = said || (d.notice && d.notice->find("systemd holds a freeze") != std::string::npos);
        }
        CHECK(said);
    }
    SECTION("claimed, then frozen by systemd: the claim is dropped without a thaw")
    {
        PolicySim sim(fast_settings());
        REQUIRE(sim.until(Action::Freeze, 90, 5) == 2);
        sim.miner.systemd_freezer = "frozen";
        const Decision d = sim.window(1);
        CHECK(d.drop_claim);
        CHECK(d.action == Action::None);
        CHECK(sim.until(Action::Thaw, 1, 30) == -1);
    }
}

TEST_CASE("a restarted miner (new InvocationID) is never taken for the one we froze", "[systemd]")
{
    PolicySim sim(fast_settings());
    sim.miner.invocation_id = "aaaa";
    REQUIRE(sim.until(Action::Freeze, 90, 5) == 2);
    CHECK(sim.claim.invocation_id == "aaaa");
    sim.miner.invocation_id = "bbbb";  // same cgroup id (not recreated), new invocation
    const Decision d = sim.window(1);
    CHECK(d.drop_claim);
    CHECK(d.drop_reason.find("restarted") != std::string::npos);
    CHECK(d.action == Action::None);
}
