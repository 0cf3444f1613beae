#include "app/daemon.hpp"

#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "state/atomic_file.hpp"
#include "sys/parsers.hpp"

namespace xap {
namespace {

Instant read_clocks()
{
    auto read = [](clockid_t id) {
        timespec ts{};
        ::clock_gettime(id, &ts);
        return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
    };
    return Instant{read(CLOCK_MONOTONIC), read(CLOCK_BOOTTIME)};
}

std::string percent_list(const Window& w, const Config& c)
{
    std::string s = "system " + format_percent(w.system_percent) + " miner " + format_percent(w.miner_percent);
    for (std::size_t i = 0; i < w.services.size() && i < c.watched.size(); ++i) {
        const auto& l = w.services[i];
        s += " " + c.watched[i].target.display() + "=" +
             (l.kind == ServiceLoad::Kind::Measured ? format_percent(l.percent)
              : l.kind == ServiceLoad::Kind::Gone   ? std::string("gone")
                                                    : std::string("restarted"));
    }
    return s;
}

}  // namespace

Result<std::shared_ptr<CgroupFs>> open_hierarchy(const Paths& paths)
{
    if (!paths.cgroup_root.empty()) return CgroupFs::at(paths.cgroup_root);
    return CgroupFs::discover(paths.proc_root);
}

Result<unsigned> online_cpus(const std::string& proc_root)
{
    const std::string path = proc_root + "/stat";
    auto text = read_file_at(AT_FDCWD, path, path);
    if (!text) return text.error();
    auto stat = parse_proc_stat(*text, path);
    if (!stat) return stat.error();
    return stat->online_cpus;
}

Result<std::string> release_claim(const Config& config, const Paths& paths)
{
    Ownership ownership{ClaimStore(paths.state_dir)};
    if (auto s = ownership.load(); !s) spdlog::warn("{}", s.error().message);
    if (!ownership.held()) return std::string("no claim in " + paths.state_dir + "; nothing to release");
    auto fs = open_hierarchy(paths);
    if (!fs) return fs.error();
    auto miner = default_cgroup_path(config.miner);
    if (!miner) return miner.error();
    Cgroup cg(*fs, *miner);
    return ownership.release(cg);
}

Daemon::Daemon(Config config, Paths paths)
    : config_(std::move(config)),
      paths_(std::move(paths)),
      controller_(config_.policy()),
      ownership_(ClaimStore(paths_.state_dir))
{
}

Daemon::~Daemon() { release(); }

Status Daemon::start()
{
    auto fs = open_hierarchy(paths_);
    if (!fs) return fs.error();
    fs_ = *fs;
    if (fs_->view_root() != "/")
        spdlog::warn("the cgroup v2 mount {} shows only {} of the hierarchy (a private cgroup namespace?): "
                     "cgroups outside it are invisible", fs_->mount_point(), fs_->view_root());

    auto miner = default_cgroup_path(config_.miner);
    if (!miner) return miner.error();
    miner_path_ = *miner;
    std::vector<std::string> watched;
    for (const auto& w : config_.watched) {
        auto p = default_cgroup_path(w.target);
        if (!p) return p.error();
        watched.push_back(*p);
    }
    sampler_ = std::make_unique<Sampler>(paths_.proc_root + "/stat", fs_, miner_path_, watched);
    if (auto s = sampler_->open(); !s) return s;
    meter_ = std::make_unique<SignalMeter>(watched.size(), static_cast<unsigned>(::sysconf(_SC_CLK_TCK)));
    service_problems_.assign(watched.size(), "");

    // A miner whose freeze file we cannot write would make the whole daemon a no-op.
    const std::string freeze = fs_->display(miner_path_ + "/cgroup.freeze");
    if (::faccessat(fs_->dirfd(), (miner_path_ + "/cgroup.freeze").c_str(), W_OK, AT_EACCESS) != 0 && errno != ENOENT)
        return os_error(errno, "self-test: cannot write", freeze + " (is the cgroup tree mounted read-only, as "
                                                                   "ProtectControlGroups= does, or does this user "
                                                                   "lack write access to it?)");

    if (auto s = ensure_directory(paths_.state_dir); !s)
        return Error{s.error().errno_value, "state directory: " + s.error().message};
    if (auto s = ownership_.load(); !s)
        spdlog::error("{}; treating it as a claim of ours without a known miner identity", s.error().message);
    else if (ownership_.claim())
        spdlog::info("found our claim from a previous run: {} frozen as {} since {}", ownership_.claim()->miner,
                     ownership_.claim()->identity, ownership_.claim()->since_unix);

    auto loop = EventLoop::create();
    if (!loop) return loop.error();
    loop_ = std::move(loop).value();
    if (auto s = loop_->exit_on_termination_signals(); !s) return s;
    if (auto s = loop_->enable_watchdog(); !s) return s;
    const auto interval = std::chrono::duration_cast<std::chrono::microseconds>(config_.poll_interval);
    if (auto s = loop_->every(interval, [this] { tick(); }); !s) return s;

    spdlog::info("watching with {} (cgroup v2 at {}, state in {})", describe(config_), fs_->mount_point(),
                 paths_.state_dir);
    return Ok{};
}

int Daemon::run()
{
    sd_notify(0, "READY=1");
    const int rc = loop_->run();
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
    release();
    return rc < 0 ? 1 : rc;
}

void Daemon::release()
{
    if (released_ || !sampler_) return;
    released_ = true;
    auto what = ownership_.release(sampler_->miner());
    if (what)
        spdlog::info("exiting: {}", *what);
    else
        spdlog::error("exiting: could not release our freeze: {} (the claim stays in {} for the next start or "
                      "`xmrig-auto-pause release`)",
                      what.error().message, ownership_.store().path());
}

void Daemon::report_problem(std::string& last, const std::string& now, const char* what)
{
    if (now == last) return;
    if (!now.empty())
        spdlog::error("{}: {}", what, now);
    else
        spdlog::info("{}: readable again", what);
    last = now;
}

void Daemon::set_status(const std::string& status)
{
    if (status == status_) return;
    status_ = status;
    sd_notifyf(0, "STATUS=%s", status.c_str());
}

void Daemon::tick()
{
    const Instant now = read_clocks();
    auto reading = sampler_->read(now);
    report_problem(tick_problem_, reading ? "" : reading.error().message, "skipping ticks");
    if (!reading) return;
    for (std::size_t i = 0; i < service_problems_.size(); ++i)
        report_problem(service_problems_[i], reading->service_problems[i],
                       ("watched " + config_.watched[i].target.display()).c_str());

    const RawSample& sample = reading->sample;
    const Window w = meter_->measure(sample);
    if (w.kind == WindowKind::CounterReset || w.kind == WindowKind::Suspended)
        spdlog::info("window dropped: {}", w.dropped_because);
    else if (w.valid())
        spdlog::debug("window {:.3f} s: {}", std::chrono::duration<double>(w.length).count(), percent_list(w, config_));

    const Decision d = controller_.step(w, sample.miner, ownership_.view(), now.monotonic);
    if (d.notice) spdlog::info("{}", *d.notice);
    act(d, sample.miner);
    report_effective_state(sample.miner);
}

void Daemon::act(const Decision& d, const MinerState& miner)
{
    Cgroup& cg = sampler_->miner();
    if (d.drop_claim) {
        if (auto s = ownership_.drop(); !s)
            spdlog::error("cannot drop the stale claim ({}): {}", d.drop_reason, s.error().message);
        else
            spdlog::info("claim dropped, miner left as it is: {}", d.drop_reason);
    }
    if (d.action == Action::Freeze) {
        if (auto s = ownership_.freeze(cg, miner, std::time(nullptr)); !s) {
            spdlog::error("freeze of {} failed: {}", cg.display(), s.error().message);
            return;
        }
        spdlog::info("freezing {}: {}", cg.display(), d.reason);
        set_status("frozen: " + d.reason);
    } else if (d.action == Action::Thaw) {
        if (auto s = ownership_.thaw(cg); !s) {
            spdlog::error("thaw of {} failed, will retry: {}", cg.display(), s.error().message);
            return;
        }
        spdlog::info("thawing {}: {}", cg.display(), d.reason);
        set_status("running: " + d.reason);
    }
}

// The freeze we asked for and the freeze in effect can differ: a task stuck in the kernel keeps
// "frozen 0" for a while, and an ancestor's freeze shows "frozen 1" without our request.
void Daemon::report_effective_state(const MinerState& miner)
{
    std::string note;
    if (ownership_.held() && miner.freeze_requested && !miner.frozen)
        note = "freeze of " + sampler_->miner().display() + " requested but not yet effective (cgroup.events frozen 0)";
    else if (ownership_.held() && miner.frozen)
        note = "frozen";
    else if (!ownership_.held() && miner.freeze_requested)
        note = "the miner is frozen by someone else (its cgroup.freeze is 1 without our claim); leaving it alone";
    else if (!ownership_.held() && miner.frozen)
        note = "the miner is frozen by an ancestor cgroup, not by us";
    if (note == effective_note_) return;
    if (!note.empty() && note != "frozen") spdlog::info("{}", note);
    if (note == "frozen" && effective_note_.starts_with("freeze of")) spdlog::info("freeze now effective");
    effective_note_ = note;
    if (!ownership_.held() && !note.empty()) set_status(note);
}

}  // namespace xap
