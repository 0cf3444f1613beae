#include "app/daemon.hpp"

#include <ctime>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "app/logging.hpp"
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

// systemd's view of the miner unit for `release`, which has no event loop of its own: a freeze an
// admin made with `systemctl freeze` on top of ours is theirs, and a restarted unit is another
// instance. Without a system bus (no systemd) there is nothing to overlay.
std::function<void(MinerState&)> systemd_view_of_miner(const Config* config)
{
    if (!config || !config->miner.is_unit()) return {};
    auto loop = EventLoop::create();
    if (!loop) return {};
    std::shared_ptr<EventLoop> keep_loop = std::move(loop).value();
    auto units = SystemdUnits::connect(keep_loop->get(), {});
    if (!units) {
        spdlog::debug("release: no systemd to ask about {}: {}", config->miner.name, units.error().message);
        return {};
    }
    std::shared_ptr<SystemdUnits> keep_units = std::move(units).value();
    const std::string unit = config->miner.name;
    if (auto s = keep_units->watch(unit); !s) {
        spdlog::warn("release: cannot read {} from systemd: {}", unit, s.error().message);
        return {};
    }
    return [keep_loop, keep_units, unit](MinerState& m) { apply_unit_state(m, unit, keep_units->info(unit)); };
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

Result<std::string> release_claim(const Config* config, const Paths& paths)
{
    Ownership ownership{ClaimStore(paths.state_dir)};
    if (auto s = ownership.load(); !s) spdlog::warn("{}", s.error().message);
    if (!ownership.held()) return std::string("no claim in " + paths.state_dir + "; nothing to release");
    auto fs = open_hierarchy(paths);
    if (!fs) return fs.error();
    // The claim names the cgroup that was frozen; that, not today's idea of the unit, is the one
    // to release. Its identity check still refuses a namesake created since.
    std::string rel;
    const std::string prefix = (*fs)->mount_point() + "/";
    if (ownership.claim() && ownership.claim()->miner.starts_with(prefix))
        rel = ownership.claim()->miner.substr(prefix.size());
    else if (!config)
        return Error{0, "the claim in " + ownership.store().path() + " names no cgroup under " + prefix +
                            " and the configuration is unusable"};
    else if (auto miner = default_cgroup_path(config->miner))
        rel = *miner;
    else
        return miner.error();
    Cgroup cg(*fs, rel);
    return ownership.release(cg, systemd_view_of_miner(config));
}

Daemon::Daemon(Config config, Paths paths, RunOptions options)
    : config_(std::move(config)),
      paths_(std::move(paths)),
      options_(std::move(options)),
      controller_(config_.policy()),
      ownership_(ClaimStore(paths_.state_dir)),
      overrides_(paths_.state_dir)
{
}

Daemon::~Daemon()
{
    release();
}

Status Daemon::start()
{
    auto fs = open_hierarchy(paths_);
    if (!fs) return fs.error();
    fs_ = *fs;
    if (fs_->view_root() != "/")
        spdlog::warn(
            "the cgroup v2 mount {} shows only {} of the hierarchy (a private cgroup namespace?): "
            "cgroups outside it are invisible",
            fs_->mount_point(), fs_->view_root());

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

    auto loop = EventLoop::create();
    if (!loop) return loop.error();
    loop_ = std::move(loop).value();
    if (auto s = loop_->exit_on_termination_signals(); !s) return s;
    connect_systemd();
    std::vector<std::string> names;  // as the config writes them, for the recording and the status
    for (const auto& w : config_.watched) names.push_back(w.target.display());
    if (!options_.record_path.empty()) {
        RecordingHeader header{static_cast<unsigned>(::sysconf(_SC_CLK_TCK)), names};
        auto rec = Recorder::open(options_.record_path, header);
        if (!rec) return rec.error();
        recorder_ = std::move(rec).value();
    }
    const auto interval = std::chrono::duration_cast<std::chrono::microseconds>(config_.poll_interval);
    if (options_.duration > Duration{})
        if (auto s = loop_->exit_after(std::chrono::duration_cast<std::chrono::microseconds>(options_.duration)); !s)
            return s;
    if (options_.observe_only) return loop_->every(interval, [this] { tick(); });

    if (auto s = self_test(); !s) return s;
    if (auto s = ensure_directory(paths_.state_dir); !s)
        return Error{s.error().errno_value, "state directory: " + s.error().message};
    if (auto s = ownership_.load(); !s)
        spdlog::error("{}; treating it as a claim of ours without a known miner identity", s.error().message);
    else if (ownership_.claim())
        spdlog::info("found our claim from a previous run: {} frozen as {} since {}", ownership_.claim()->miner,
                     ownership_.claim()->identity, ownership_.claim()->since_unix);
    status_ =
        std::make_unique<StatusKeeper>(paths_.state_dir, config_.metrics_file, sampler_->miner().display(), names);
    load_override();
    // A person's `pause`/`resume` takes effect at once, not a poll later.
    if (auto s = loop_->watch_directory(paths_.state_dir,
                                        [this](const std::string& name) {
                                            if (name != OverrideStore::kFileName) return;
                                            load_override();
                                            tick(false);
                                        });
        !s)
        return s;
    if (auto s = loop_->enable_watchdog(); !s) return s;
    if (auto s = loop_->every(interval, [this] { tick(); }); !s) return s;

    spdlog::info("watching with {} (cgroup v2 at {}, state in {})", describe(config_), fs_->mount_point(),
                 paths_.state_dir);
    return Ok{};
}

// A daemon that cannot write the miner's cgroup.freeze would run without effect: say why instead.
Status Daemon::self_test() const
{
    const std::string& mount = fs_->mount_point();
    if (fs_->view_root() != "/")
        return Error{0, "self-test: " + mount + " shows only " + fs_->view_root() +
                            " of the cgroup hierarchy (a private cgroup namespace, e.g. PrivateCgroup or a "
                            "container): the miner's cgroup is not visible from here"};
    struct statvfs sv {};
    if (::statvfs(mount.c_str(), &sv) == 0 && (sv.f_flag & ST_RDONLY))
        return Error{EROFS, "self-test: " + mount +
                                " is mounted read-only, so cgroup.freeze cannot be written (ProtectControlGroups=yes "
                                "in the unit does this; it must stay off for this daemon)"};
    // The miner's own freeze file when it exists, else the root's cgroup.procs: writable to root only.
    Cgroup& miner = sampler_->miner();
    std::string rel = miner.rel_path().empty() ? "" : miner.rel_path() + "/cgroup.freeze";
    if (rel.empty() || ::faccessat(fs_->dirfd(), rel.c_str(), F_OK, 0) != 0) rel = "cgroup.procs";
    if (::faccessat(fs_->dirfd(), rel.c_str(), W_OK, AT_EACCESS) != 0)
        return os_error(errno, "self-test: cannot write",
                        fs_->display(rel) + " (running as uid " + std::to_string(::geteuid()) +
                            ": DynamicUser= or User= in the unit take away write access to the cgroup tree; "
                            "the daemon must run as root)");
    return Ok{};
}

void Daemon::connect_systemd()
{
    bool any_unit = config_.miner.is_unit();
    for (const auto& w : config_.watched) any_unit = any_unit || w.target.is_unit();
    if (!any_unit) return;
    // A unit that changes state is acted on at once (a stopping miner is thawed in this tick, not the
    // next); exceptions must not cross sd-bus's C frames.
    auto units = SystemdUnits::connect(loop_->get(), [this](const std::string&) {
        try {
            tick(false);
        } catch (const std::exception& e) {
            spdlog::critical("fatal: {}", e.what());
            loop_->exit(1);
        }
    });
    if (!units) {
        spdlog::info("systemd is not reachable ({}): unit names map to their default cgroups (system.slice/NAME)",
                     units.error().message);
        return;
    }
    systemd_ = std::move(units).value();
    auto watch = [this](const Target& t) {
        if (!t.is_unit()) return;
        if (auto s = systemd_->watch(t.name); !s) spdlog::error("systemd: {}", s.error().message);
    };
    watch(config_.miner);
    for (const auto& w : config_.watched) watch(w.target);
    follow_units();
}

// Points each unit target at the cgroup systemd reports for it now, and reports a unit that does
// not exist once (a configuration problem; the other signals keep working).
void Daemon::follow_units()
{
    if (!systemd_) return;
    auto follow = [this](const Target& t, Cgroup& cg, const char* role) {
        if (!t.is_unit()) return;
        const UnitInfo& info = systemd_->info(t.name);
        cg.set_path(unit_cgroup_path(info));
        const bool exists = info.exists();
        auto [it, first] = unit_exists_.try_emplace(t.name, exists);
        if ((first || it->second != exists) && !exists)
            spdlog::error("configuration problem: the {} unit {} does not exist (LoadState={})", role, t.name,
                          info.load_state.empty() ? "unknown" : info.load_state);
        else if (!first && it->second != exists)
            spdlog::info("the {} unit {} exists now", role, t.name);
        it->second = exists;
    };
    follow(config_.miner, sampler_->miner(), "miner");
    for (std::size_t i = 0; i < config_.watched.size(); ++i)
        follow(config_.watched[i].target, sampler_->watched(i), "watched");
}

void Daemon::overlay_unit_state(MinerState& miner) const
{
    if (systemd_ && config_.miner.is_unit())
        apply_unit_state(miner, config_.miner.name, systemd_->info(config_.miner.name));
}

// systemd 252 announces no FreezerState change (systemd#31115), so it is asked again whenever its
// answer can matter: when the miner's cgroup.freeze changed (a `systemctl freeze` or `thaw` writes
// it), while systemd's last answer was not "running" (its "freezing"/"thawing" settle without a
// write), and, with force, just before a thaw. Returns true when systemd now holds a freeze.
bool Daemon::recheck_freezer_state(bool force)
{
    if (!systemd_ || !config_.miner.is_unit()) return false;
    const std::string& unit = config_.miner.name;
    const std::string& known = systemd_->info(unit).freezer_state;
    if (force || (!known.empty() && known != "running")) {
        if (auto changed = systemd_->refresh_freezer_state(unit); !changed)
            spdlog::warn("systemd: cannot read FreezerState of {}: {}", unit, changed.error().message);
    }
    const std::string& now = systemd_->info(unit).freezer_state;
    return !now.empty() && now != "running";
}

void Daemon::load_override()
{
    auto o = overrides_.load();
    if (!o) {
        spdlog::error("ignoring the manual override: {}", o.error().message);
        override_ = Override{};
        return;
    }
    if (o->mode != override_.mode || o->until_unix != override_.until_unix)
        spdlog::info("manual override: {}{}", to_string(o->mode),
                     o->until_unix ? " until " + std::to_string(*o->until_unix) + " (Unix time)" : std::string());
    override_ = *o;
}

// The override in force now; an expired one is cleared from disk so that it stays expired.
Manual Daemon::manual_mode(std::int64_t now_unix)
{
    const Manual m = active_mode(override_, now_unix);
    if (m == Manual::Auto && override_.mode != Manual::Auto) {
        spdlog::info("manual {} expired; back to automatic", to_string(override_.mode));
        if (auto s = overrides_.clear(); !s) spdlog::warn("{}", s.error().message);
        override_ = Override{};
    }
    return m;
}

int Daemon::run()
{
    sd_notify(0, "READY=1");
    const int rc = loop_->run();
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
    release();
    if (status_) {
        status_->on_state("stopped", "", std::time(nullptr));
        status_->publish(std::time(nullptr));
    }
    return rc < 0 ? 1 : rc;
}

void Daemon::release()
{
    if (released_ || !sampler_ || options_.observe_only) return;
    released_ = true;
    recheck_freezer_state(true);  // an admin's freeze made while we held ours is theirs to undo
    auto what = ownership_.release(sampler_->miner(), [this](MinerState& m) { overlay_unit_state(m); });
    if (what)
        spdlog::info("exiting: {}", *what);
    else
        spdlog::error(
            "exiting: could not release our freeze: {} (the claim stays in {} for the next start or "
            "`xmrig-auto-pause release`)",
            what.error().message, ownership_.store().path());
}

void Daemon::tick(bool measured)
{
    const Instant now = read_clocks();
    const std::int64_t now_unix = std::time(nullptr);
    follow_units();
    auto reading = sampler_->read(now);
    log_problem_change(tick_problem_, reading ? "" : reading.error().message, spdlog::level::err, "skipping ticks",
                       "readable again");
    if (!reading) return;
    for (std::size_t i = 0; i < service_problems_.size(); ++i)
        if (reading->service_problems[i] != service_problems_[i])  // the name is built only for a change
            log_problem_change(service_problems_[i], reading->service_problems[i], spdlog::level::err,
                               "watched " + config_.watched[i].target.display(), "readable again");
    const bool freeze_edge = reading->sample.miner.freeze_requested != last_freeze_requested_;
    last_freeze_requested_ = reading->sample.miner.freeze_requested;
    recheck_freezer_state(freeze_edge);
    overlay_unit_state(reading.value().sample.miner);
    const RawSample& sample = reading->sample;
    const Duration since_last = last_tick_ ? now.monotonic - *last_tick_ : Duration{};
    last_tick_ = now.monotonic;
    if (options_.observe_only) {
        record_beside_daemon(sample, measured, now_unix);
        return;
    }

    Window w;
    w.kind = WindowKind::Unmeasured;
    w.services.resize(config_.watched.size());
    if (measured) w = meter_->measure(sample);
    if (w.kind == WindowKind::CounterReset || w.kind == WindowKind::Suspended)
        spdlog::info("window dropped: {}", w.dropped_because);
    else if (w.valid() && spdlog::should_log(spdlog::level::debug))  // the list is built only when logged
        spdlog::debug("window {:.3f} s: {}", std::chrono::duration<double>(w.length).count(), percent_list(w, config_));

    const Manual manual = manual_mode(now_unix);
    const ClaimView claim = ownership_.view();
    const Decision d = controller_.step(w, sample.miner, claim, now.monotonic, manual);
    if (recorder_) {
        auto s = recorder_->write({sample, measured, manual, claim.held, d});
        log_problem_change(record_problem_, s ? "" : s.error().message, spdlog::level::err, "recording",
                           "written again");
    }
    if (d.notice) spdlog::info("{}", *d.notice);
    if (d.measure_again_in)
        if (auto s = loop_->call_again_in(std::chrono::duration_cast<std::chrono::microseconds>(*d.measure_again_in));
            !s)
            spdlog::warn("{}", s.error().message);
    const MinerState after = act(d, sample.miner);
    report_effective_state(after, d.action == Action::Freeze);
    status_->set_manual(manual, override_.until_unix);
    status_->on_decision(d, now_unix);
    publish(w, after, since_last, now_unix);
}

// `record` is usually run beside the installed daemon: its freezes are recorded as claimed (and its
// manual override as such), so that a replay follows its own decisions over them instead of
// taking them for someone else's freeze. Both files are read every tick: `record` only.
void Daemon::record_beside_daemon(const RawSample& sample, bool measured, std::int64_t now_unix)
{
    auto claim = ownership_.store().load();
    // A malformed claim file is still a claim; an unreadable one says nothing.
    const bool claimed = claim ? claim->has_value() : claim.error().errno_value == 0;
    auto o = overrides_.load();
    const Manual manual = o ? active_mode(*o, now_unix) : Manual::Auto;
    if (auto s = recorder_->write({sample, measured, manual, claimed, std::nullopt}); !s)
        throw std::runtime_error(s.error().message);
}

MinerState Daemon::act(const Decision& d, const MinerState& miner)
{
    MinerState after = miner;
    Cgroup& cg = sampler_->miner();
    if (d.drop_claim) {
        if (auto s = ownership_.drop(); !s)
            spdlog::error("cannot drop the stale claim ({}): {}", d.drop_reason, s.error().message);
        else
            spdlog::info("claim dropped, miner left as it is: {}", d.drop_reason);
    }
    // A failed freeze or thaw is retried on every tick while the decision stands: say so once.
    auto failed = [&](const std::string& problem) {
        log_problem_change(action_problem_, problem, spdlog::level::err, cg.display(), "freeze and thaw work again");
    };
    if (d.action == Action::Freeze) {
        if (auto s = ownership_.freeze(cg, miner, std::time(nullptr)); !s) {
            failed("freeze failed, will retry while the pressure lasts: " + s.error().message);
            return after;
        }
        failed("");
        spdlog::info("freezing {}: {}", cg.display(), d.reason);
        after.freeze_requested = true;
        // cgroup.events shows the effect a moment later; until then it is reported as pending.
        if (auto ev = cg.events(); ev && *ev) after.frozen = (*ev)->frozen;
    } else if (d.action == Action::Thaw) {
        // An admin's `systemctl freeze` on top of ours leaves cgroup.freeze at 1 and sends no
        // signal: ask systemd before undoing a freeze that may now be theirs.
        if (ownership_.held() && recheck_freezer_state(true)) {
            if (auto s = ownership_.drop(); !s) spdlog::error("cannot drop our claim: {}", s.error().message);
            spdlog::info("not thawing {}: systemd now holds its own freeze on the miner; claim dropped", cg.display());
            after.systemd_freezer = systemd_->info(config_.miner.name).freezer_state;
            return after;
        }
        if (auto s = ownership_.thaw(cg); !s) {
            failed("thaw failed, will retry: " + s.error().message);
            return after;
        }
        failed("");
        spdlog::info("thawing {}: {}", cg.display(), d.reason);
        after.freeze_requested = false;
        after.frozen = false;
    }
    return after;
}

// The freeze we asked for and the freeze in effect can differ: a task stuck in the kernel keeps
// "frozen 0" for a while, and an ancestor's freeze shows "frozen 1" without our request. A freeze
// takes some milliseconds to complete, so one written this tick is judged at the next.
void Daemon::report_effective_state(const MinerState& miner, bool just_frozen)
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
    if (note == effective_note_ || (just_frozen && note.starts_with("freeze of"))) return;
    if (!note.empty() && note != "frozen") spdlog::info("{}", note);
    if (note == "frozen" && effective_note_.starts_with("freeze of")) spdlog::info("freeze now effective");
    effective_note_ = note;
}

void Daemon::publish(const Window& w, const MinerState& miner, Duration since_last, std::int64_t now_unix)
{
    std::string state = "running";
    std::string why;
    if (ownership_.held()) {
        state = "frozen";
        status_->add_frozen(since_last);
    } else if (miner.frozen_by_systemd() || miner.freeze_requested || miner.frozen) {
        state = "frozen-by-someone-else";
        why = effective_note_;
    } else if (!miner.running()) {
        state = "miner-inactive";
        why = "the miner is not running: " + miner.not_running_reason;
    }
    status_->on_window(w);
    status_->on_state(state, why, now_unix);
    status_->publish(now_unix);
}

}  // namespace xap
