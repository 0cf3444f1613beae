// Kernel text formats, parsed from literal text as the kernel prints it.
#include "support/catch.hpp"
#include "sys/parsers.hpp"

using namespace xap;

TEST_CASE("/proc/stat: aggregate cpu line with 4 to 11 numbers - online CPUs from cpuN lines", "[parsers]")
{
    struct Row {
        const char* text;
        std::uint64_t user, nice, idle, steal, guest;
        unsigned cpus;
    };
    const Row rows[] = {
        {"cpu  4705 150 1120 16250 520 0 24 7 3 1\ncpu0 2352 75 560 8125 260 0 12 3 1 0\n"
         "cpu1 2353 75 560 8125 260 0 12 4 2 1\nintr 12345 0 0\nctxt 999\n",
         4705, 150, 16250, 7, 3, 2},
        {"cpu 10 20 30 40\ncpu0 10 20 30 40\n", 10, 20, 40, 0, 0, 1},                        // 2.4-era: 4 fields
        {"cpu  1 2 3 4 5 6 7 8 9 10 11\ncpu0 1 2 3 4 5 6 7 8 9 10 11\n", 1, 2, 4, 8, 9, 1},  // an 11th is ignored
        {"  cpu   1   2   3   4   5  \t 6 7 8\ncpu0 1 2 3 4 5 6 7 8\ncpu3 0 0 0 0 0 0 0 0\n", 1, 2, 4, 8, 0, 2},
        {"cpu 1 2 3 4 5 6 7 8 0 0\r\ncpu0 1 2 3 4 5 6 7 8 0 0\r\n", 1, 2, 4, 8, 0, 1},
    };
    for (const Row& r : rows) {
        CAPTURE(r.text);
        auto s = parse_proc_stat(r.text, "/proc/stat");
        REQUIRE(s.ok());
        CHECK(s->aggregate[CpuTimes::User] == r.user);
        CHECK(s->aggregate[CpuTimes::Nice] == r.nice);
        CHECK(s->aggregate[CpuTimes::Idle] == r.idle);
        CHECK(s->aggregate[CpuTimes::Steal] == r.steal);
        CHECK(s->aggregate[CpuTimes::Guest] == r.guest);
        CHECK(s->online_cpus == r.cpus);
    }
}

TEST_CASE("/proc/stat: malformed text is an error naming the path and the problem", "[parsers]")
{
    struct Row {
        const char* text;
        const char* says;
    };
    const Row rows[] = {
        {"", "no aggregate \"cpu\" line"},
        {"cpu0 1 2 3 4\nintr 1\n", "no aggregate \"cpu\" line"},
        {"cpu 1 2 3\n", "3 numbers, at least 4 expected"},
        {"cpu 1 2 x 4\n", "field 3 of the cpu line is not a number"},
        {"cpu 1 2 -3 4\n", "field 3 of the cpu line is not a number"},
        {"cpu 1 2 99999999999999999999999 4\n", "field 3"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.text);
        auto s = parse_proc_stat(r.text, "/fake/proc/stat");
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().message.find("/fake/proc/stat") == 0);
        CHECK(s.error().message.find(r.says) != std::string::npos);
    }
}

TEST_CASE("cpu.stat usage_usec", "[parsers]")
{
    auto ok = parse_cpu_stat_usage(
        "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"
        "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
        "x/cpu.stat");
    REQUIRE(ok.ok());
    CHECK(*ok == 123456);
    for (const char* bad : {"", "user_usec 5\n", "usage_usec\n", "usage_usec abc\n", "usage_usec -1\n"}) {
        CAPTURE(bad);
        auto r = parse_cpu_stat_usage(bad, "x/cpu.stat");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("x/cpu.stat") == 0);
    }
}

TEST_CASE("cgroup.events and cgroup.freeze", "[parsers]")
{
    struct Row {
        const char* text;
        bool ok, populated, frozen;
    };
    const Row rows[] = {
        {"populated 1\nfrozen 0\n", true, true, false},
        {"populated 0\nfrozen 1\n", true, false, true},
        {"frozen 1\npopulated 1\n", true, true, true},
        {"populated 1\n", false, false, false},  // a kernel without the cgroup v2 freezer (< 5.2)
        {"populated 2\nfrozen 0\n", false, false, false},
        {"", false, false, false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.text);
        auto ev = parse_cgroup_events(r.text, "m/cgroup.events");
        REQUIRE(ev.ok() == r.ok);
        if (!r.ok) continue;
        CHECK(ev->populated == r.populated);
        CHECK(ev->frozen == r.frozen);
    }
    CHECK(*parse_cgroup_freeze("0\n", "f") == false);
    CHECK(*parse_cgroup_freeze("1\n", "f") == true);
    CHECK_FALSE(parse_cgroup_freeze("2\n", "f").ok());
    CHECK_FALSE(parse_cgroup_freeze("", "f").ok());
}

TEST_CASE("mountinfo: unified and hybrid layouts - escaped mount points - sub-views", "[parsers]")
{
    const char* unified =
        "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
    const char* hybrid =
        "30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
        "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw\n"
        "32 30 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd\n";
    const char* escaped = "40 22 0:30 /inner /mnt/my\\040cgroups rw - cgroup2 none rw\n";

    auto u = parse_mountinfo(unified, "mi");
    REQUIRE(u.ok());
    REQUIRE(u->size() == 2);
    CHECK(u->at(1).mount_point == "/sys/fs/cgroup");
    CHECK(u->at(1).fstype == "cgroup2");
    CHECK(u->at(1).root == "/");

    auto h = parse_mountinfo(hybrid, "mi");
    REQUIRE(h.ok());
    CHECK(h->at(1).mount_point == "/sys/fs/cgroup/unified");
    CHECK(h->at(1).fstype == "cgroup2");
    CHECK(h->at(2).fstype == "cgroup");

    auto e = parse_mountinfo(escaped, "mi");
    REQUIRE(e.ok());
    CHECK(e->at(0).mount_point == "/mnt/my cgroups");
    CHECK(e->at(0).root == "/inner");

    auto bad = parse_mountinfo("garbage line\n", "/proc/self/mountinfo");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("/proc/self/mountinfo: line 1") == 0);
}
