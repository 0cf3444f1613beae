// Fixtures for tests on the real cgroup v2 hierarchy: a scratch cgroup tree, processes started
// inside a chosen cgroup, the daemon as a subprocess, and bounded waits on observable state.
#pragma once

#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include "sys/cgroup_fs.hpp"

namespace xap::test {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Why the real-cgroup tests cannot run here, or "" when they can.
std::string real_cgroup_unavailable_reason();

// A child process, started with its stdout/stderr in a log file and (optionally) inside a cgroup
// before it execs, so that none of its CPU time is ever accounted elsewhere.
class Process {
public:
    Process(const std::vector<std::string>& argv, const std::string& cgroup_procs, const std::string& log_path);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    void signal(int sig) const;
    // Waits (bounded) for the exit; returns the exit status, 128+N for signal N, -1 on timeout.
    int wait(std::chrono::milliseconds timeout = 10s);
    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
};

// /sys/fs/cgroup[/unified]/xap-it-<pid>-<n>/, removed with everything in it at the end.
class ScratchCgroup {
public:
    ScratchCgroup();
    ~ScratchCgroup();
    ScratchCgroup(const ScratchCgroup&) = delete;
    ScratchCgroup& operator=(const ScratchCgroup&) = delete;

    // Creates a child ("miner", "game"...), returns its absolute path.
    std::string make(const std::string& child) const;
    [[nodiscard]] std::string abs(const std::string& child) const { return root_ + "/" + child; }
    // The path as the daemon's config takes it: relative to the cgroup v2 mount, with a leading "/".
    [[nodiscard]] std::string config_path(const std::string& child) const { return "/" + rel_ + "/" + child; }
    [[nodiscard]] std::string read(const std::string& child, const std::string& file) const;
    void write(const std::string& child, const std::string& file, const std::string& value) const;
    [[nodiscard]] bool frozen(const std::string& child) const;
    void remove(const std::string& child) const;

private:
    std::string mount_;
    std::string rel_;
    std::string root_;
};

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = 5ms);

std::string read_text(const std::string& path);
bool file_exists(const std::string& path);

}  // namespace xap::test
