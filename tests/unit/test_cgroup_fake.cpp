// Cgroup, Sampler, Ownership and release against fake /proc and cgroup trees in a temp dir.
#include "app/daemon.hpp"
#include "app/ownership.hpp"
#include "app/sampler.hpp"
#include "support/catch.hpp"
#include "sys/cgroup.hpp"
#include "temp_tree.hpp"

using namespace xap;

namespace {

std::shared_ptr<CgroupFs> fake_fs(const test::TempTree& t)
{
    t.mkdir("cg");
    auto fs = CgroupFs::at(t.path("cg"));
    REQUIRE(fs.ok());
    return *fs;
}

}  // namespace

TEST_CASE("a cgroup's usage - events and freeze request are read - absence is a value", "[sys]")
{
    test::TempTree t;
    auto fs = fake_fs(t);
    t.cgroup("cg/box/miner", 5000, true, true, false);
    Cgroup miner(fs, "box/miner");
    auto u = miner.usage();
    REQUIRE(u.ok());
    REQUIRE(u->has_value());
    CHECK((*u)->usage_usec == 5000);
    CHECK((*u)->cgroup_id == *miner.id());
    CHECK((*miner.events())->populated);
    CHECK_FALSE((*miner.events())->frozen);
    CHECK(**miner.freeze_requested());

    t.write("cg/box/miner/cpu.stat", "usage_usec 7000\n");  // rewritten in place: the kept fd sees it
    CHECK((*miner.usage())->usage_usec == 7000);

    Cgroup absent(fs, "box/nothing");
    auto a = absent.usage();
    REQUIRE(a.ok());
    CHECK_FALSE(a->has_value());
}

TEST_CASE("garbage in a cgroup file is an error naming the file", "[sys]")
{
    test::TempTree t;
    auto fs = fake_fs(t);
    t.cgroup("cg/svc", 1);
    t.write("cg/svc/cpu.stat", "usage_usec twelve\n");
    Cgroup svc(fs, "svc");
    auto u = svc.usage();
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().message.find(t.path("cg/svc/cpu.stat")) == 0);
}

TEST_CASE("the sampler reads /proc/stat - the miner and each watched service", "[sys]")
{
    test::TempTree t;
    auto fs = fake_fs(t);
    t.write("proc/stat",
            "cpu  100 200 300 400 0 0 0 0 0 0\ncpu0 50 100 150 200 0 0 0 0 0 0\n"
            "cpu1 50 100 150 200 0 0 0 0 0 0\nintr 1 2 3\n");
    t.cgroup("cg/m", 1000, true, false, false);
    t.cgroup("cg/a", 2000);
    t.write("cg/b/cpu.stat", "nonsense\n");
    Sampler s(t.path("proc/stat"), fs, "m", {"a", "b", "gone"});
    REQUIRE(s.open().ok());
    auto r = s.read({});
    REQUIRE(r.ok());
    CHECK(r->sample.stat.online_cpus == 2);
    CHECK(r->sample.stat.aggregate[CpuTimes::Nice] == 200);
    CHECK(r->sample.miner.present);
    CHECK(r->sample.miner.populated);
    CHECK(r->sample.miner.identity.starts_with("cgroup-id:"));
    CHECK(r->sample.miner.usage->usage_usec == 1000);
    REQUIRE(r->sample.services.size() == 3);
    CHECK(r->sample.services[0]->usage_usec == 2000);
    CHECK_FALSE(r->sample.services[1].has_value());  // unreadable: not running this window
    CHECK(r->service_problems[1].find("usage_usec") != std::string::npos);
    CHECK_FALSE(r->sample.services[2].has_value());
    CHECK(r->service_problems[2].empty());  // simply absent
}

TEST_CASE("the sampler refuses a /proc/stat without a cpu line at start-up", "[sys]")
{
    test::TempTree t;
    auto fs = fake_fs(t);
    t.write("proc/stat", "intr 1 2 3\nctxt 5\n");
    Sampler s(t.path("proc/stat"), fs, "m", {});
    auto st = s.open();
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message.find("no aggregate \"cpu\" line") != std::string::npos);
}

TEST_CASE("ownership: the claim is written before the freeze and removed after the thaw", "[state]")
{
    test::TempTree t;
    auto fs = fake_fs(t);
    t.cgroup("cg/m", 1);
    t.mkdir("state");
    Cgroup miner(fs, "m");
    auto state = read_miner(miner);
    REQUIRE(state.ok());
    Ownership own{ClaimStore(t.path("state"))};
    REQUIRE(own.load().ok());
    CHECK_FALSE(own.held());

    REQUIRE(own.freeze(miner, *state, 1).ok());
    CHECK(own.held());
    CHECK(t.read("cg/m/cgroup.freeze") == "1");
    CHECK(t.read("state/claim.json").find(state->identity) != std::string::npos);

    REQUIRE(own.thaw(miner).ok());
    CHECK_FALSE(own.held());
    CHECK(t.read("cg/m/cgroup.freeze") == "0");
    CHECK_FALSE(std::filesystem::exists(t.path("state/claim.json")));
}

TEST_CASE("ownership: no claim - no freeze - a failed freeze withdraws its claim", "[state]")
{
    test::TempTree t;
    auto fs = fake_fs(t);
    t.cgroup("cg/m", 1);
    Cgroup miner(fs, "m");
    auto state = read_miner(miner);
    REQUIRE(state.ok());

    Ownership unwritable{ClaimStore(t.path("no/such/dir"))};
    auto s = unwritable.freeze(miner, *state, 1);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("not freezing") == 0);
    CHECK(t.read("cg/m/cgroup.freeze") == "0\n");

    t.mkdir("state");
    Ownership own{ClaimStore(t.path("state"))};
    t.remove("cg/m/cgroup.freeze");
    t.mkdir("cg/m/cgroup.freeze");  // a directory: the write fails
    REQUIRE_FALSE(own.freeze(miner, *state, 1).ok());
    CHECK_FALSE(own.held());
    CHECK_FALSE(std::filesystem::exists(t.path("state/claim.json")));
}

TEST_CASE("release thaws only a freeze that is ours - and drops a stale claim without touching the miner", "[state]")
{
    struct Row {
        const char* what;
        bool same_identity;
        bool freeze_file;
        bool config_usable;
        bool claim_names_path;  // the claim's miner is a path under the mount (else a bare name)
        bool released;
        const char* freeze_after;
    };
    const Row rows[] = {
        {"our valid claim: thawed", true, true, true, false, true, "0"},
        {"claim on a recreated miner: left frozen", false, true, true, false, true, "1\n"},
        {"thawed by someone else meanwhile: nothing to do", true, false, true, false, true, "0\n"},
        {"configuration unusable: the cgroup the claim names is thawed", true, true, false, true, true, "0"},
        {"configuration unusable, claim names no cgroup: an error, nothing touched", true, true, false, false, false,
         "1\n"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.what);
        test::TempTree t;
        t.mkdir("cg");
        t.cgroup("cg/box/miner", 1, true, r.freeze_file, r.freeze_file);
        t.mkdir("state");
        Paths paths;
        paths.cgroup_root = t.path("cg");
        paths.state_dir = t.path("state");
        auto fs = CgroupFs::at(paths.cgroup_root);
        Cgroup probe(*fs, "box/miner");
        auto st = read_miner(probe);
        REQUIRE(st.ok());
        const std::string identity = r.same_identity ? st->identity : "cgroup-id:999999999";
        const std::string named = r.claim_names_path ? (*fs)->mount_point() + "/box/miner" : "m";
        REQUIRE(ClaimStore(paths.state_dir).save({named, identity, "", 1}).ok());

        Config c;
        c.miner = *parse_target("/box/miner");
        auto what = release_claim(r.config_usable ? &c : nullptr, paths);
        CHECK(what.ok() == r.released);
        CHECK(t.read("cg/box/miner/cgroup.freeze") == r.freeze_after);
        CHECK(std::filesystem::exists(t.path("state/claim.json")) == !r.released);
    }
}
