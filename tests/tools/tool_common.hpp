// Shared helpers for the xap-* test tools: argument parsing, clocks, stop
// signals and per-thread nice. Header-only so each tool stays one .cpp file
// plus this header, with no library target to wire up.
#pragma once

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <limits>
#include <string>
#include <string_view>

namespace xap_tools {

// ---------------------------------------------------------------- errors

// Usage errors exit with 2 so scripts can tell "bad invocation" from a
// runtime failure (1).
[[noreturn]] inline void usage_error(std::string_view prog, const std::string& msg)
{
    std::cerr << prog << ": " << msg << "\n"
              << "Try '" << prog << " --help'.\n";
    std::exit(2);
}

[[noreturn]] inline void runtime_error(std::string_view prog, const std::string& msg)
{
    std::cerr << prog << ": " << msg << "\n";
    std::exit(1);
}

inline std::string errno_text(int err)
{
    return std::strerror(err);
}

// ---------------------------------------------------------------- args

// Walks argv and hands out "--name value" / "--name=value" pairs, so every
// tool accepts both spellings without repeating the split logic.
class ArgReader {
public:
    ArgReader(std::string_view prog, int argc, char** argv) : prog_(prog), argc_(argc), argv_(argv) {}

    // Advances to the next option; returns false at the end of argv.
    bool next()
    {
        if (++index_ >= argc_) return false;
        std::string_view arg = argv_[index_];
        if (arg.substr(0, 2) != "--") usage_error(prog_, "unexpected argument '" + std::string(arg) + "'");
        auto eq = arg.find('=');
        name_ = std::string(arg.substr(0, eq));
        has_inline_ = eq != std::string_view::npos;
        inline_value_ = has_inline_ ? std::string(arg.substr(eq + 1)) : std::string();
        return true;
    }

    const std::string& name() const { return name_; }

    // Flags must not carry "=value"; catching it avoids silently ignoring
    // something like --json=false.
    void flag() const
    {
        if (has_inline_) usage_error(prog_, "option " + name_ + " takes no value");
    }

    std::string value()
    {
        if (has_inline_) return inline_value_;
        if (index_ + 1 >= argc_) usage_error(prog_, "option " + name_ + " needs a value");
        return argv_[++index_];
    }

    long long integer(long long min, long long max)
    {
        std::string text = value();
        errno = 0;
        char* end = nullptr;
        long long v = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno == ERANGE || v < min || v > max) {
            usage_error(prog_, "invalid value for " + name_ + ": '" + text + "' (expected integer " +
                                   std::to_string(min) + ".." + std::to_string(max) + ")");
        }
        return v;
    }

    double real(double min, double max)
    {
        std::string text = value();
        errno = 0;
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || errno == ERANGE || !(v >= min && v <= max)) {
            usage_error(prog_, "invalid value for " + name_ + ": '" + text + "' (expected number " +
                                   format_number(min) + ".." + format_number(max) + ")");
        }
        return v;
    }

    [[noreturn]] void unknown() const { usage_error(prog_, "unknown option '" + name_ + "'"); }

private:
    static std::string format_number(double v)
    {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", v);
        return buf;
    }

    std::string_view prog_;
    int argc_;
    char** argv_;
    int index_ = 0;
    std::string name_;
    std::string inline_value_;
    bool has_inline_ = false;
};

// ---------------------------------------------------------------- time

// CLOCK_MONOTONIC keeps running while a cgroup is frozen, which is what we
// want: a freeze must show up as lost time, not be hidden.
inline std::int64_t now_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline timespec to_timespec(std::int64_t ns)
{
    timespec ts{};
    ts.tv_sec = time_t(ns / 1'000'000'000);
    ts.tv_nsec = long(ns % 1'000'000'000);
    return ts;
}

inline std::int64_t seconds_to_ns(double s)
{
    return std::int64_t(s * 1e9);
}

// ---------------------------------------------------------------- signals

// Blocks SIGTERM/SIGINT in the calling thread (and in every thread it
// creates afterwards), so that only an explicit sigtimedwait() consumes them
// and worker threads are never interrupted mid-loop.
inline sigset_t block_stop_signals()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

// Waits until `deadline_ns` (monotonic) or a stop signal; returns true when a
// stop signal arrived. Loops on EINTR, e.g. after SIGSTOP/SIGCONT.
inline bool wait_for_stop_until(const sigset_t& set, std::int64_t deadline_ns)
{
    for (;;) {
        std::int64_t left = deadline_ns - now_ns();
        if (left <= 0) return false;
        timespec ts = to_timespec(left);
        int sig = sigtimedwait(&set, nullptr, &ts);
        if (sig == SIGTERM || sig == SIGINT) return true;
        if (sig < 0 && errno != EINTR && errno != EAGAIN) return false;
    }
}

// Single-threaded tools use a plain flag set from a handler; installed
// without SA_RESTART so a sleep in progress returns early with EINTR.
inline volatile std::sig_atomic_t g_stop_requested = 0;

inline void install_stop_flag_handler()
{
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop_requested = 1; };
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
}

// ---------------------------------------------------------------- nice

// On Linux nice is per thread: PRIO_PROCESS with a TID changes only that
// thread. xmrig does exactly this for its workers, so the tools do too.
// Returns an error message, or an empty string on success.
inline std::string set_thread_nice(int nice_value)
{
    if (setpriority(PRIO_PROCESS, id_t(gettid()), nice_value) != 0) {
        return "setpriority(--nice " + std::to_string(nice_value) + ") failed: " + errno_text(errno);
    }
    return {};
}

inline long online_cpus()
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

}  // namespace xap_tools
