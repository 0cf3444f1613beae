// xap-pointer-chase: cache-sensitive foreground latency probe.
//
// Builds one random cycle through a working set of 64-byte nodes (one node
// per cache line) and follows it. Every load depends on the previous one, so
// the time per access is the load-to-use latency of wherever the working set
// currently lives: it rises when a co-running miner evicts it from cache.
#include "tool_common.hpp"

#include <sched.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace xap_tools;

constexpr std::string_view kProg = "xap-pointer-chase";

struct Options {
    long size_kib = 4096;
    long long iterations = 20'000'000;
    std::optional<double> interval_ms;  // set: periodic mode
    std::optional<double> duration_s;   // periodic mode only; empty: forever
    std::optional<int> cpu;
    std::uint64_t seed = 1;
    bool json = false;
};

void print_help()
{
    std::printf(
        "Usage: %s [options]\n"
        "Pointer chase over a random cyclic permutation (Sattolo) of 64-byte nodes;\n"
        "reports the average nanoseconds per dependent access: wall time\n"
        "(CLOCK_MONOTONIC) and this thread's CPU time (excludes waiting for a CPU).\n\n"
        "  --size-kib K        working set in KiB (default 4096)\n"
        "  --iterations N      one-shot mode: time N accesses, print\n"
        "                      'ns_per_access X cpu_ns_per_access Y'\n"
        "                      (default mode, N = 20000000)\n"
        "  --interval-ms M     periodic mode: one line per M ms,\n"
        "                      't_s T ns_per_access X cpu_ns_per_access Y accesses N'\n"
        "  --duration S        periodic mode: stop after S seconds (default: until signal)\n"
        "  --cpu N             pin to CPU N with sched_setaffinity (default: no pinning)\n"
        "  --seed N            permutation seed (default 1)\n"
        "  --json              JSON output (periodic mode: one object per line)\n"
        "  --help              show this help\n",
        kProg.data());
}

Options parse_options(int argc, char** argv)
{
    Options o;
    bool iterations_given = false;
    ArgReader args(kProg, argc, argv);
    while (args.next()) {
        const std::string& n = args.name();
        if (n == "--help") {
            print_help();
            std::exit(0);
        } else if (n == "--size-kib") {
            o.size_kib = long(args.integer(1, 64L << 20));
        } else if (n == "--iterations") {
            o.iterations = args.integer(1, 1LL << 40);
            iterations_given = true;
        } else if (n == "--interval-ms") {
            o.interval_ms = args.real(1, 3.6e6);
        } else if (n == "--duration") {
            o.duration_s = args.real(0, 1e9);
        } else if (n == "--cpu") {
            o.cpu = int(args.integer(0, CPU_SETSIZE - 1));
        } else if (n == "--seed") {
            o.seed = std::uint64_t(args.integer(0, INT64_MAX));
        } else if (n == "--json") {
            args.flag();
            o.json = true;
        } else {
            args.unknown();
        }
    }
    if (iterations_given && o.interval_ms) usage_error(kProg, "--iterations and --interval-ms are exclusive");
    if (o.duration_s && !o.interval_ms) usage_error(kProg, "--duration needs --interval-ms");
    return o;
}

// One node per cache line, so each hop is a distinct line.
struct alignas(64) Node {
    Node* next;
};
static_assert(sizeof(Node) == 64);

// Sattolo's algorithm yields a single cycle covering every node, so the
// chase never settles into a short loop that would fit in L1.
std::vector<Node> build_cycle(long size_kib, std::uint64_t seed)
{
    std::size_t n = std::size_t(size_kib) * 1024 / sizeof(Node);
    if (n < 2) n = 2;
    std::vector<std::size_t> perm(n);
    for (std::size_t i = 0; i < n; ++i) perm[i] = i;
    std::mt19937_64 rng(seed);
    for (std::size_t i = n - 1; i > 0; --i) {
        std::uniform_int_distribution<std::size_t> pick(0, i - 1);
        std::swap(perm[i], perm[pick(rng)]);
    }
    std::vector<Node> nodes(n);
    for (std::size_t i = 0; i < n; ++i) nodes[i].next = &nodes[perm[i]];
    return nodes;
}

// Storing the final pointer here keeps the chase observable, so the
// optimiser cannot delete it.
const Node* volatile g_sink = nullptr;

// The loop body is nothing but the dependent load; the result is returned
// so the compiler must perform every hop.
const Node* chase(const Node* p, long long steps)
{
    for (long long i = 0; i < steps; ++i) p = p->next;
    return p;
}

void pin_to_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(std::size_t(cpu), &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        runtime_error(kProg, "sched_setaffinity(--cpu " + std::to_string(cpu) + ") failed: " + errno_text(errno));
    }
}

// CPU time of this thread: unlike wall time it excludes waiting for a CPU,
// so wall vs CPU ns per access separates time-sharing from cache misses.
std::int64_t thread_cpu_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Measurement {
    long long accesses = 0;
    std::int64_t wall_ns = 0;
    std::int64_t cpu_ns = 0;
    std::int64_t end_ns = 0;  // monotonic time the measurement ended
    double wall_per_access() const { return double(wall_ns) / double(accesses); }
    double cpu_per_access() const { return double(cpu_ns) / double(accesses); }
};

void print_one_shot(const Options& o, const Measurement& m)
{
    if (o.json) {
        std::printf("{\"size_kib\":%ld,\"iterations\":%lld,\"ns_per_access\":%.3f,\"cpu_ns_per_access\":%.3f}\n",
                    o.size_kib, m.accesses, m.wall_per_access(), m.cpu_per_access());
    } else {
        std::printf("ns_per_access %.3f cpu_ns_per_access %.3f\n", m.wall_per_access(), m.cpu_per_access());
    }
}

void print_sample(const Options& o, double t_s, const Measurement& m)
{
    if (o.json) {
        std::printf(
            "{\"t_s\":%.3f,\"size_kib\":%ld,\"ns_per_access\":%.3f,\"cpu_ns_per_access\":%.3f,"
            "\"accesses\":%lld}\n",
            t_s, o.size_kib, m.wall_per_access(), m.cpu_per_access(), m.accesses);
    } else {
        std::printf("t_s %.3f ns_per_access %.3f cpu_ns_per_access %.3f accesses %lld\n", t_s, m.wall_per_access(),
                    m.cpu_per_access(), m.accesses);
    }
    std::fflush(stdout);
}

// Chases in small chunks between clock reads, so the clock overhead stays
// well under 1% while an interval still ends within a few microseconds.
Measurement chase_until(const Node*& p, std::int64_t deadline)
{
    constexpr long long kChunk = 4096;
    Measurement m;
    std::int64_t t0 = now_ns(), c0 = thread_cpu_ns(), t = t0;
    while (t < deadline && !g_stop_requested) {
        p = chase(p, kChunk);
        m.accesses += kChunk;
        t = now_ns();
    }
    m.wall_ns = t - t0;
    m.end_ns = t;
    m.cpu_ns = thread_cpu_ns() - c0;
    return m;
}

const Node* run_periodic(const Options& o, const Node* p)
{
    const std::int64_t interval = std::int64_t(*o.interval_ms * 1e6);
    const std::int64_t start = now_ns();
    const std::int64_t end = o.duration_s ? start + seconds_to_ns(*o.duration_s) : INT64_MAX;
    std::int64_t interval_start = start;
    while (!g_stop_requested && interval_start < end) {
        Measurement m = chase_until(p, std::min(interval_start + interval, end));
        interval_start = m.end_ns;
        print_sample(o, double(interval_start - start) / 1e9, m);
    }
    return p;
}

Measurement run_one_shot(const Options& o, const Node*& p)
{
    Measurement m;
    m.accesses = o.iterations;
    std::int64_t t0 = now_ns(), c0 = thread_cpu_ns();
    p = chase(p, o.iterations);
    m.wall_ns = now_ns() - t0;
    m.cpu_ns = thread_cpu_ns() - c0;
    return m;
}

}  // namespace

int main(int argc, char** argv)
{
    Options o = parse_options(argc, argv);
    // Only periodic mode runs open-ended and needs a clean stop; a one-shot
    // run keeps the default action so SIGTERM still ends it at once.
    if (o.interval_ms) install_stop_flag_handler();
    if (o.cpu) pin_to_cpu(*o.cpu);

    std::vector<Node> nodes = build_cycle(o.size_kib, o.seed);
    // One full lap first: faults the pages in and loads the set into
    // whatever cache level it fits, so the first sample is not a cold start.
    const Node* p = chase(&nodes[0], (long long)nodes.size());

    if (o.interval_ms) {
        p = run_periodic(o, p);
    } else {
        print_one_shot(o, run_one_shot(o, p));
    }
    g_sink = p;
    return 0;
}
