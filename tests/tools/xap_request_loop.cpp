// xap-request-loop: latency probe shaped like a small request handler.
//
// Each "request" walks a fixed buffer (256 KiB by default) in a random but
// fixed order, reading and writing every cache line, then the loop idles for
// --gap-ms. Idle gaps matter: they let a co-running miner evict the buffer,
// which is exactly the interference the daemon is meant to prevent, and they
// also expose wake-up latency behind a busy CPU.
#include "tool_common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace xap_tools;

constexpr std::string_view kProg = "xap-request-loop";
constexpr double kDefaultDurationS = 10;

struct Options {
    long work_kib = 256;
    double gap_ms = 5;
    std::optional<double> duration_s;
    std::optional<long long> requests;
    bool json = false;
};

void print_help()
{
    std::printf(
        "Usage: %s [options]\n"
        "Runs requests that each walk a fixed buffer (dependent, random line order,\n"
        "read+write), sleeping --gap-ms between them, then prints latency stats:\n"
        "'requests N mean_us M p50_us A p95_us B p99_us C max_us D'.\n\n"
        "  --work-kib K      buffer walked per request in KiB (default 256)\n"
        "  --gap-ms MS       sleep between requests in ms (default 5)\n"
        "  --duration S      run for S seconds (default %g unless --requests is given)\n"
        "  --requests N      stop after N requests\n"
        "  --json            print the result as one JSON object\n"
        "  --help            show this help\n\n"
        "SIGTERM/SIGINT stops early and still prints the stats.\n",
        kProg.data(), kDefaultDurationS);
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
        } else if (n == "--work-kib") {
            o.work_kib = long(args.integer(1, 1L << 20));
        } else if (n == "--gap-ms") {
            o.gap_ms = args.real(0, 3.6e6);
        } else if (n == "--duration") {
            o.duration_s = args.real(0, 1e9);
        } else if (n == "--requests") {
            o.requests = args.integer(1, 1LL << 40);
        } else if (n == "--json") {
            args.flag();
            o.json = true;
        } else {
            args.unknown();
        }
    }
    if (!o.duration_s && !o.requests) o.duration_s = kDefaultDurationS;
    return o;
}

// One node per cache line; `touched` is written on every visit so the
// lines are dirty, like a handler updating its working data.
struct alignas(64) Node {
    Node* next;
    std::uint64_t touched;
};
static_assert(sizeof(Node) == 64);

// A single random cycle (Sattolo) so the walk visits every line once per
// request and hardware prefetch cannot predict the next line.
std::vector<Node> build_buffer(long kib)
{
    std::size_t n = std::max<std::size_t>(2, std::size_t(kib) * 1024 / sizeof(Node));
    std::vector<std::size_t> perm(n);
    for (std::size_t i = 0; i < n; ++i) perm[i] = i;
    std::mt19937_64 rng(42);
    for (std::size_t i = n - 1; i > 0; --i) {
        std::uniform_int_distribution<std::size_t> pick(0, i - 1);
        std::swap(perm[i], perm[pick(rng)]);
    }
    std::vector<Node> nodes(n);
    for (std::size_t i = 0; i < n; ++i) nodes[i] = Node{&nodes[perm[i]], 0};
    return nodes;
}

Node* one_request(Node* p, std::size_t nodes)
{
    for (std::size_t i = 0; i < nodes; ++i) {
        p->touched++;
        p = p->next;
    }
    return p;
}

void sleep_ms(double ms)
{
    if (ms <= 0) return;
    timespec ts = to_timespec(std::int64_t(ms * 1e6));
    // An EINTR here means SIGTERM/SIGINT: the caller checks the flag next.
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
}

// Nearest-rank percentile on sorted data: always an observed value.
double percentile_us(const std::vector<std::int64_t>& sorted, double pct)
{
    if (sorted.empty()) return 0;
    auto rank = std::size_t(std::ceil(pct / 100.0 * double(sorted.size())));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return double(sorted[rank - 1]) / 1e3;
}

double mean_us(const std::vector<std::int64_t>& v)
{
    if (v.empty()) return 0;
    double sum = 0;
    for (auto x : v) sum += double(x);
    return sum / double(v.size()) / 1e3;
}

void print_stats(const Options& o, std::vector<std::int64_t>& lat)
{
    std::sort(lat.begin(), lat.end());
    double p50 = percentile_us(lat, 50), p95 = percentile_us(lat, 95), p99 = percentile_us(lat, 99);
    double max = lat.empty() ? 0 : double(lat.back()) / 1e3;
    if (o.json) {
        std::printf(
            "{\"requests\":%zu,\"work_kib\":%ld,\"gap_ms\":%g,\"mean_us\":%.1f,\"p50_us\":%.1f,"
            "\"p95_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
            lat.size(), o.work_kib, o.gap_ms, mean_us(lat), p50, p95, p99, max);
    } else {
        std::printf("requests %zu mean_us %.1f p50_us %.1f p95_us %.1f p99_us %.1f max_us %.1f\n", lat.size(),
                    mean_us(lat), p50, p95, p99, max);
    }
}

// Keeps the walk observable so the optimiser cannot drop it.
Node* volatile g_sink = nullptr;

}  // namespace

int main(int argc, char** argv)
{
    Options o = parse_options(argc, argv);
    install_stop_flag_handler();
    std::vector<Node> nodes = build_buffer(o.work_kib);
    // Untimed first walk: page faults are not part of a request's cost.
    Node* p = one_request(&nodes[0], nodes.size());

    const std::int64_t end = o.duration_s ? now_ns() + seconds_to_ns(*o.duration_s) : INT64_MAX;
    const long long max_requests = o.requests.value_or(INT64_MAX);
    std::vector<std::int64_t> latencies;
    while (!g_stop_requested && (long long)latencies.size() < max_requests && now_ns() < end) {
        std::int64_t t0 = now_ns();
        p = one_request(p, nodes.size());
        latencies.push_back(now_ns() - t0);
        sleep_ms(o.gap_ms);
    }
    g_sink = p;
    print_stats(o, latencies);
    return 0;
}
