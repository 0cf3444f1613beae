// xap-cpu-load: foreground CPU load with a controllable duty cycle.
//
// Each thread is busy for duty% of every period and sleeps the rest, which
// lets tests create "light" per-service load that stays below a threshold.
// The busy part is arithmetic in registers (no syscalls, little memory), so
// it competes for CPU time, not for cache.
#include "tool_common.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace xap_tools;

constexpr std::string_view kProg = "xap-cpu-load";

struct Options {
    long threads = 1;
    double duty_percent = 100;
    double period_ms = 10;
    std::optional<double> duration_s;  // empty: run until signalled
    int nice = 0;
};

void print_help()
{
    std::printf(
        "Usage: %s [options]\n"
        "Foreground CPU load: each thread spins on real arithmetic for DUTY%% of\n"
        "every period (CLOCK_MONOTONIC) and sleeps for the rest.\n\n"
        "  --threads N        busy threads (default 1)\n"
        "  --duty PERCENT     busy share of each period, 0..100 (default 100)\n"
        "  --period-ms MS     duty-cycle period in milliseconds (default 10)\n"
        "  --duration S       stop after S seconds (default: until SIGTERM/SIGINT)\n"
        "  --nice N           nice of each thread via setpriority on its TID (default 0)\n"
        "  --help             show this help\n",
        kProg.data());
}

Options parse_options(int argc, char** argv)
{
    Options o;
    ArgReader args(kProg, argc, argv);
    while (args.next()) {
        const std::string& n = args.name();
        if (n == "--help") {
            print_help();
            std::exit(0);
        } else if (n == "--threads") {
            o.threads = long(args.integer(1, 1024));
        } else if (n == "--duty") {
            o.duty_percent = args.real(0, 100);
        } else if (n == "--period-ms") {
            o.period_ms = args.real(0.1, 60000);
        } else if (n == "--duration") {
            o.duration_s = args.real(0, 1e9);
        } else if (n == "--nice") {
            o.nice = int(args.integer(-20, 19));
        } else {
            args.unknown();
        }
    }
    return o;
}

std::atomic<bool> g_stop{false};
std::atomic<std::uint64_t> g_sink{0};

// A dependent multiply/xorshift chain: pure ALU work the compiler cannot
// drop or vectorise away, roughly a microsecond per call.
std::uint64_t burn(std::uint64_t x)
{
    for (int i = 0; i < 256; ++i) {
        x = x * 0x9E3779B97F4A7C15ull + 1;
        x ^= x >> 31;
    }
    return x;
}

// Spins until the monotonic clock reaches `until_ns`. clock_gettime is a
// vDSO call, so the loop stays in user space.
std::uint64_t busy_until(std::int64_t until_ns, std::uint64_t x)
{
    while (now_ns() < until_ns) x = burn(x);
    return x;
}

void sleep_until(std::int64_t deadline_ns)
{
    timespec ts = to_timespec(deadline_ns);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

void worker_main(const Options& o, std::string& error, std::latch& started)
{
    error = set_thread_nice(o.nice);
    started.count_down();
    if (!error.empty()) return;

    const std::int64_t period = std::int64_t(o.period_ms * 1e6);
    const std::int64_t busy = std::int64_t(double(period) * o.duty_percent / 100.0);
    std::uint64_t x = std::uint64_t(now_ns());
    std::int64_t period_start = now_ns();
    while (!g_stop.load(std::memory_order_relaxed)) {
        // Busy time counts from the actual wake-up, not the ideal period
        // start, so timer slack and wake-up latency do not eat into the
        // duty; the period itself stays on the absolute schedule.
        x = busy_until(now_ns() + busy, x);
        if (busy < period) sleep_until(period_start + period);
        period_start += period;
        // After preemption or a cgroup freeze, start afresh instead of
        // running back-to-back periods to "catch up".
        std::int64_t t = now_ns();
        if (period_start + period <= t) period_start = t;
    }
    g_sink.fetch_xor(x, std::memory_order_relaxed);
}

}  // namespace

int main(int argc, char** argv)
{
    Options o = parse_options(argc, argv);
    sigset_t sigs = block_stop_signals();

    std::vector<std::string> errors(std::size_t(o.threads));
    std::latch started(o.threads);
    std::vector<std::thread> workers;
    for (long i = 0; i < o.threads; ++i) {
        workers.emplace_back(worker_main, std::cref(o), std::ref(errors[std::size_t(i)]), std::ref(started));
    }
    started.wait();
    std::string first_error;
    for (auto& e : errors) {
        if (first_error.empty()) first_error = e;
    }

    const std::int64_t end = o.duration_s ? now_ns() + seconds_to_ns(*o.duration_s) : INT64_MAX;
    if (first_error.empty()) wait_for_stop_until(sigs, end);
    g_stop.store(true, std::memory_order_relaxed);
    for (auto& w : workers) w.join();
    if (!first_error.empty()) runtime_error(kProg, first_error);
    return 0;
}
