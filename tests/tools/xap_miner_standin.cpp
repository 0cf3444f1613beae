// xap-miner-standin: a RandomX-like cache hog for tests and benchmarks.
//
// Each worker owns a scratchpad (2 MiB by default, like RandomX) and walks it
// with dependent loads: the next address is derived from the value just
// loaded, so neither out-of-order execution nor the hardware prefetcher can
// overlap the misses. Every access also writes back, so the scratchpad's
// lines stay dirty and evicting them costs the same as with a real miner.
#include "tool_common.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace xap_tools;

constexpr std::string_view kProg = "xap-miner-standin";

// One "hash" is this many scratchpad accesses; only ratios between runs
// matter, so the unit is arbitrary but fixed.
constexpr int kAccessesPerHash = 2048;

struct Options {
    std::size_t threads = std::size_t(online_cpus());
    long scratchpad_kib = 2048;
    double report_interval_s = 1.0;
    std::optional<double> duration_s;  // empty: run until signalled
    std::optional<int> nice;           // empty: leave nice untouched
    std::string work_file;
};

void print_help()
{
    std::printf(
        "Usage: %s [options]\n"
        "Stand-in for a RandomX CPU miner: per-thread scratchpads walked with\n"
        "dependent random reads and writes; 1 hash = %d accesses.\n\n"
        "  --threads N            worker threads (default: online CPUs = %ld)\n"
        "  --scratchpad-kib K     scratchpad per thread in KiB (default 2048)\n"
        "  --report-interval S    seconds between 'hashrate H/s total T' lines (default 1)\n"
        "  --duration S           stop after S seconds (default: until SIGTERM/SIGINT)\n"
        "  --nice N               each worker calls setpriority(PRIO_PROCESS, gettid(), N)\n"
        "  --work-file PATH       atomically rewrite PATH with the cumulative hash count\n"
        "                         at every report and at exit\n"
        "  --help                 show this help\n\n"
        "After a stall longer than one interval (e.g. a cgroup freeze) the first\n"
        "report is skipped, so no rate is ever averaged over frozen time; the\n"
        "output just has a gap. On SIGTERM/SIGINT or at the end of --duration\n"
        "prints 'final total T elapsed_s E avg_hashrate A' and exits 0.\n",
        kProg.data(), kAccessesPerHash, online_cpus());
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
            o.threads = std::size_t(args.integer(1, 1024));
        } else if (n == "--scratchpad-kib") {
            // Upper bound keeps the word count below 2^32 for the index math.
            o.scratchpad_kib = long(args.integer(1, 1 << 20));
        } else if (n == "--report-interval") {
            o.report_interval_s = args.real(0.01, 86400);
        } else if (n == "--duration") {
            o.duration_s = args.real(0, 1e9);
        } else if (n == "--nice") {
            o.nice = int(args.integer(-20, 19));
        } else if (n == "--work-file") {
            o.work_file = args.value();
            if (o.work_file.empty()) usage_error(kProg, "invalid value for --work-file: '' (expected a path)");
        } else {
            args.unknown();
        }
    }
    return o;
}

// ---------------------------------------------------------------- workers

// Own cache line per counter so the reporter's reads and the workers'
// stores never false-share with each other.
struct alignas(64) WorkerSlot {
    std::atomic<std::uint64_t> hashes{0};
    std::string error;  // written before the start latch, read after it
};

std::uint64_t splitmix64(std::uint64_t& x)
{
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::vector<std::uint64_t> make_scratchpad(long kib, std::uint64_t seed)
{
    std::vector<std::uint64_t> pad(std::size_t(kib) * 1024 / sizeof(std::uint64_t));
    for (auto& w : pad) w = splitmix64(seed);
    return pad;
}

// The dependent walk. The address comes from the high bits of the state,
// which depends on the previous load; the add of an odd constant keeps the
// state from ever collapsing to a zero fixed point.
std::uint64_t one_hash(std::uint64_t* pad, std::uint64_t words, std::uint64_t state)
{
    for (int i = 0; i < kAccessesPerHash; ++i) {
        std::uint64_t idx = ((state >> 32) * words) >> 32;
        std::uint64_t v = pad[idx];
        state = (state ^ v) * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
        state ^= state >> 29;
        pad[idx] = v + state;
    }
    return state;
}

std::atomic<bool> g_stop{false};
std::atomic<std::uint64_t> g_sink{0};  // keeps the walk observable to the optimiser

void worker_main(const Options& o, std::size_t index, WorkerSlot& slot, std::latch& started)
{
    if (o.nice) slot.error = set_thread_nice(*o.nice);
    std::uint64_t seed = std::uint64_t{0x5EED0000} + index;
    // Allocated here, not in main, so first-touch places it on this
    // thread's NUMA node, as xmrig does.
    std::vector<std::uint64_t> pad;
    if (slot.error.empty()) pad = make_scratchpad(o.scratchpad_kib, seed);
    started.count_down();
    if (!slot.error.empty()) return;

    std::uint64_t state = splitmix64(seed);
    std::uint64_t count = 0;
    while (!g_stop.load(std::memory_order_relaxed)) {
        state = one_hash(pad.data(), pad.size(), state);
        slot.hashes.store(++count, std::memory_order_relaxed);
    }
    g_sink.fetch_xor(state, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- reporting

std::uint64_t total_hashes(const WorkerSlot* slots, std::size_t n)
{
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < n; ++i) total += slots[i].hashes.load(std::memory_order_relaxed);
    return total;
}

// Write-temp-then-rename so a reader never sees a torn number, even if we
// are frozen or SIGKILLed halfway through a write.
bool write_work_file(const std::string& path, std::uint64_t total)
{
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << total << "\n";
        out.flush();
        if (!out) return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

void update_work_file(const Options& o, std::uint64_t total)
{
    if (o.work_file.empty() || write_work_file(o.work_file, total)) return;
    std::fprintf(stderr, "%s: cannot write --work-file '%s': %s\n", kProg.data(), o.work_file.c_str(),
                 errno_text(errno).c_str());
}

void print_report(double rate, std::uint64_t total)
{
    std::printf("hashrate %.1f H/s total %llu\n", rate, (unsigned long long)total);
    std::fflush(stdout);
}

// Main-thread loop: prints one line per interval until a stop signal or the
// duration ends. Deadlines are absolute so output does not drift, but after
// a long freeze we restart the schedule instead of bursting missed reports.
void report_loop(const Options& o, const sigset_t& sigs, const WorkerSlot* slots, std::int64_t start)
{
    const std::int64_t interval = seconds_to_ns(o.report_interval_s);
    const std::int64_t end = o.duration_s ? start + seconds_to_ns(*o.duration_s) : INT64_MAX;
    std::int64_t next = start + interval, last_t = start;
    std::uint64_t last_total = 0;
    for (;;) {
        if (wait_for_stop_until(sigs, std::min(next, end))) return;
        std::int64_t t = now_ns();
        if (t >= end) return;
        std::uint64_t total = total_hashes(slots, o.threads);
        // Waking a whole interval late means we were frozen or stalled:
        // skip this line rather than print a rate averaged over the gap.
        if (t - next < interval) print_report(double(total - last_total) * 1e9 / double(t - last_t), total);
        update_work_file(o, total);
        last_t = t;
        last_total = total;
        next += interval;
        if (next <= t) next = t + interval;
    }
}

void stop_and_join(std::vector<std::thread>& workers)
{
    g_stop.store(true, std::memory_order_relaxed);
    for (auto& w : workers) w.join();
}

}  // namespace

int main(int argc, char** argv)
{
    Options o = parse_options(argc, argv);
    if (!o.work_file.empty() && !write_work_file(o.work_file, 0)) {
        runtime_error(kProg, "cannot write --work-file '" + o.work_file + "': " + errno_text(errno));
    }
    // Blocked before spawning so workers inherit the mask and only the
    // reporter's sigtimedwait() ever sees SIGTERM/SIGINT.
    sigset_t sigs = block_stop_signals();

    auto slots = std::make_unique<WorkerSlot[]>(o.threads);
    std::latch started(std::ptrdiff_t(o.threads));
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < o.threads; ++i) {
        workers.emplace_back(worker_main, std::cref(o), i, std::ref(slots[i]), std::ref(started));
    }
    started.wait();
    for (std::size_t i = 0; i < o.threads; ++i) {
        if (slots[i].error.empty()) continue;
        stop_and_join(workers);
        runtime_error(kProg, slots[i].error);
    }
    std::fprintf(stderr, "%s: %zu threads, %ld KiB scratchpad each, nice %s\n", kProg.data(), o.threads,
                 o.scratchpad_kib, o.nice ? std::to_string(*o.nice).c_str() : "unchanged");

    std::int64_t start = now_ns();
    report_loop(o, sigs, slots.get(), start);
    stop_and_join(workers);

    std::uint64_t total = total_hashes(slots.get(), o.threads);
    double elapsed = double(now_ns() - start) / 1e9;
    std::printf("final total %llu elapsed_s %.3f avg_hashrate %.1f\n", (unsigned long long)total, elapsed,
                elapsed > 0 ? double(total) / elapsed : 0.0);
    std::fflush(stdout);
    update_work_file(o, total);
    return 0;
}
