// Counter deltas -> percentages, and every kind of counter fault.
#include <random>

#include "policy/signal_meter.hpp"
#include "support/catch.hpp"

using namespace xap;
using namespace std::chrono_literals;

namespace {

// A sample builder: fields are cumulative USER_HZ ticks (100 per second per CPU).
struct Clock {
    Duration mono = 1000s;
    Duration boot = 1000s;
};

RawSample sample(const Clock& c, CpuTimes t, unsigned cpus = 2)
{
    RawSample s;
    s.at = {c.mono, c.boot};
    s.stat.aggregate = t;
    s.stat.online_cpus = cpus;
    return s;
}

CpuTimes times(std::uint64_t user, std::uint64_t nice, std::uint64_t system, std::uint64_t idle,
               std::uint64_t iowait = 0, std::uint64_t guest = 0)
{
    CpuTimes t;
    t.field = {user, nice, system, idle, iowait, 0, 0, 0, guest, 0};
    return t;
}

}  // namespace

TEST_CASE("system signal: user+system+irq+softirq over user..steal - as percent", "[meter]")
{
    struct Row {
        CpuTimes delta;
        double expected;
    };
    // One second on 2 CPUs = 200 ticks.
    const Row rows[] = {
        {times(0, 0, 0, 200), 0.0},           {times(100, 0, 0, 100), 50.0},
        {times(50, 100, 10, 40), 30.0},        // nice time (the miner's lane) is not foreground work
        {times(20, 0, 10, 160, 10), 15.0},     // iowait is not work
        {times(200, 0, 0, 0, 0, 150), 100.0},  // guest is inside user already: never added
    };
    for (const Row& r : rows) {
        SignalMeter m(0, 100);
        Clock c;
        m.measure(sample(c, times(1000, 1000, 1000, 1000)));
        c.mono += 1s;
        c.boot += 1s;
        CpuTimes now = times(1000, 1000, 1000, 1000);
        for (std::size_t i = 0; i < CpuTimes::Count; ++i) now.field[i] += r.delta.field[i];
        const Window w = m.measure(sample(c, now));
        REQUIRE(w.valid());
        CHECK(w.system_percent == Approx(r.expected));
    }
}

TEST_CASE("the first sample only takes baselines", "[meter]")
{
    SignalMeter m(1, 100);
    const Window w = m.measure(sample({}, times(1, 2, 3, 4)));
    CHECK(w.kind == WindowKind::First);
    CHECK(w.services.size() == 1);
}

TEST_CASE("counter faults drop the window and re-baseline", "[meter]")
{
    struct Row {
        const char* what;
        CpuTimes next;
        unsigned cpus;
        Duration mono_step, boot_step;
        WindowKind kind;
    };
    const CpuTimes base = times(1000, 1000, 1000, 1000, 100);
    const Row rows[] = {
        {"idle falls (hotplug, resume)", times(1100, 1000, 1000, 900, 100), 2, 1s, 1s, WindowKind::CounterReset},
        {"iowait falls", times(1100, 1000, 1000, 1100, 50), 2, 1s, 1s, WindowKind::CounterReset},
        {"user falls", times(900, 1000, 1000, 1200), 2, 1s, 1s, WindowKind::CounterReset},
        {"a CPU went offline", times(1100, 1000, 1000, 1100, 100), 1, 1s, 1s, WindowKind::CounterReset},
        {"no ticks elapsed", base, 2, 1s, 1s, WindowKind::CounterReset},
        {"the monotonic clock stood still", times(1100, 1000, 1000, 1100, 100), 2, 0s, 0s, WindowKind::CounterReset},
        {"suspended for a minute", times(1100, 1000, 1000, 1100, 100), 2, 1s, 61s, WindowKind::Suspended},
    };
    for (const Row& r : rows) {
        CAPTURE(r.what);
        SignalMeter m(0, 100);
        Clock c;
        m.measure(sample(c, base));
        c.mono += r.mono_step;
        c.boot += r.boot_step;
        const Window w = m.measure(sample(c, r.next, r.cpus));
        CHECK(w.kind == r.kind);
        CHECK_FALSE(w.dropped_because.empty());
        CHECK(w.system_percent == 0.0);
        // The next window measures from the fresh baseline.
        c.mono += 1s;
        c.boot += 1s;
        CpuTimes after = r.next;
        after.field[CpuTimes::User] += 100;
        after.field[CpuTimes::Idle] += 100 * r.cpus - 100;
        const Window next = m.measure(sample(c, after, r.cpus));
        CHECK(next.valid());
        CHECK(next.system_percent == Approx(100.0 / r.cpus));
    }
}

TEST_CASE("the miner's own non-nice CPU is not foreground work", "[meter]")
{
    struct Row {
        const char* what;
        CpuTimes delta;       // over one second, 2 CPUs
        std::uint64_t miner;  // usec used by the miner's cgroup in that second
        double expected;
    };
    const Row rows[] = {
        {"nice-19 miner, idle machine: its user time is in nice", times(0, 190, 10, 0), 2'000'000, 0.0},
        {"nice-0 miner, idle machine: its time is in user", times(190, 0, 10, 0), 2'000'000, 0.0},
        {"nice-19 miner plus one busy foreground core", times(100, 95, 5, 0), 1'000'000, 50.0},
        {"nice-0 miner on one core plus one foreground core", times(200, 0, 0, 0), 1'000'000, 50.0},
        {"no miner use, foreground only", times(60, 0, 0, 140), 0, 30.0},
    };
    for (const Row& r : rows) {
        CAPTURE(r.what);
        SignalMeter m(0, 100);
        Clock c;
        RawSample s0 = sample(c, times(0, 0, 0, 0));
        s0.miner.usage = CgroupUsage{7, 5'000'000};
        m.measure(s0);
        c.mono += 1s;
        c.boot += 1s;
        RawSample s1 = sample(c, r.delta);
        s1.miner.usage = CgroupUsage{7, 5'000'000 + r.miner};
        const Window w = m.measure(s1);
        REQUIRE(w.valid());
        CHECK(w.system_percent == Approx(r.expected).margin(0.01));
    }
}

TEST_CASE("per-service CPU: usage delta over window x online CPUs - restarts and absences", "[meter]")
{
    struct Row {
        const char* what;
        std::optional<CgroupUsage> before, after;
        ServiceLoad::Kind kind;
        double percent;
    };
    const Row rows[] = {
        {"steady 10% of one core on 2 CPUs", CgroupUsage{5, 1'000'000}, CgroupUsage{5, 1'100'000},
         ServiceLoad::Kind::Measured, 5.0},
        {"idle", CgroupUsage{5, 1'000'000}, CgroupUsage{5, 1'000'000}, ServiceLoad::Kind::Measured, 0.0},
        {"counter reset by a restart (same path, new cgroup)", CgroupUsage{5, 9'000'000}, CgroupUsage{6, 10'000},
         ServiceLoad::Kind::Reset, 0.0},
        {"restarted within one window, counter already past the old value", CgroupUsage{5, 1'000},
         CgroupUsage{6, 900'000}, ServiceLoad::Kind::Reset, 0.0},
        {"counter went backwards without a new id", CgroupUsage{5, 1'000'000}, CgroupUsage{5, 10},
         ServiceLoad::Kind::Reset, 0.0},
        {"started since the last tick", std::nullopt, CgroupUsage{6, 50'000}, ServiceLoad::Kind::Reset, 0.0},
        {"stopped", CgroupUsage{5, 1'000'000}, std::nullopt, ServiceLoad::Kind::Gone, 0.0},
        {"more than the machine can do is clamped", CgroupUsage{5, 0}, CgroupUsage{5, 10'000'000},
         ServiceLoad::Kind::Measured, 100.0},
    };
    for (const Row& r : rows) {
        CAPTURE(r.what);
        SignalMeter m(1, 100);
        Clock c;
        RawSample s0 = sample(c, times(0, 0, 0, 0));
        s0.services = {r.before};
        m.measure(s0);
        c.mono += 1s;
        c.boot += 1s;
        RawSample s1 = sample(c, times(0, 0, 0, 200));
        s1.services = {r.after};
        const Window w = m.measure(s1);
        REQUIRE(w.valid());
        CHECK(w.services.at(0).kind == r.kind);
        CHECK(w.services.at(0).percent == Approx(r.percent));
    }
}

TEST_CASE("percentages stay within 0..100 whatever the counters do", "[meter]")
{
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<std::uint64_t> step(0, 500);
    std::uniform_int_distribution<int> coin(0, 9);
    SignalMeter m(2, 100);
    Clock c;
    CpuTimes t;
    std::uint64_t svc = 0;
    std::uint64_t miner = 0;
    for (int i = 0; i < 5000; ++i) {
        for (auto& f : t.field) {
            if (coin(rng) == 0 && f > 100)
                f -= 100;  // backwards
            else
                f += step(rng);
        }
        svc = coin(rng) == 0 ? 0 : svc + step(rng) * 10'000;
        miner += step(rng) * 20'000;
        c.mono += std::chrono::milliseconds(1 + step(rng));
        c.boot = c.mono + (coin(rng) == 0 ? 5s : 0s);
        RawSample s = sample(c, t, coin(rng) == 0 ? 1 : 2);
        s.services = {CgroupUsage{1, svc}, std::nullopt};
        s.miner.usage = CgroupUsage{3, miner};
        const Window w = m.measure(s);
        REQUIRE(w.system_percent >= 0.0);
        REQUIRE(w.system_percent <= 100.0);
        REQUIRE(w.miner_percent >= 0.0);
        REQUIRE(w.miner_percent <= 100.0);
        for (const auto& l : w.services) {
            REQUIRE(l.percent >= 0.0);
            REQUIRE(l.percent <= 100.0);
        }
    }
}
