#include "app/event_loop.hpp"

#include <csignal>
#include <cstring>

#include <spdlog/spdlog.h>

#include "sys/fd.hpp"

namespace xap {
namespace {

Error sd_error(int r, const char* what)
{
    return Error{-r, std::string(what) + ": " + std::strerror(-r)};
}

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create()
{
    sd_event* e = nullptr;
    if (int r = sd_event_new(&e); r < 0) return sd_error(r, "cannot create the sd-event loop");
    return std::unique_ptr<EventLoop>(new EventLoop(e));
}

int EventLoop::on_timer(sd_event_source* s, uint64_t, void* self)
{
    auto* loop = static_cast<EventLoop*>(self);
    loop->rescheduled_ = false;
    // Exceptions must not cross sd-event's C frames: end the loop and rethrow from run().
    try {
        loop->tick_();
    } catch (...) {
        loop->failure_ = std::current_exception();
        loop->exit(1);
        return 0;
    }
    if (loop->rescheduled_) return 0;
    if (int r = sd_event_source_set_time_relative(s, static_cast<uint64_t>(loop->interval_.count())); r < 0) return r;
    return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

Status EventLoop::call_again_in(std::chrono::microseconds after)
{
    if (!timer_) return Error{EINVAL, "call_again_in: no poll timer"};
    if (int r = sd_event_source_set_time_relative(timer_.get(), static_cast<uint64_t>(after.count())); r < 0)
        return sd_error(r, "cannot reschedule the poll timer");
    if (int r = sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT); r < 0)
        return sd_error(r, "cannot reschedule the poll timer");
    rescheduled_ = true;
    return Ok{};
}

Status EventLoop::every(std::chrono::microseconds interval, std::function<void()> fn)
{
    interval_ = interval;
    tick_ = std::move(fn);
    sd_event_source* s = nullptr;
    int r = sd_event_add_time_relative(event_.get(), &s, CLOCK_MONOTONIC, 0, 1000, on_timer, this);
    if (r < 0) return sd_error(r, "cannot add the poll timer");
    timer_.reset(s);
    return Ok{};
}

int EventLoop::on_signal(sd_event_source*, const struct signalfd_siginfo*, void* self)
{
    static_cast<EventLoop*>(self)->exit(0);
    return 0;
}

Status EventLoop::exit_on_termination_signals()
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return os_error(errno, "cannot block", "SIGTERM/SIGINT/SIGHUP");
    sd_event_source* s = nullptr;
    if (int r = sd_event_add_signal(event_.get(), &s, SIGTERM, on_signal, this); r < 0)
        return sd_error(r, "cannot watch SIGTERM");
    sigterm_.reset(s);
    if (int r = sd_event_add_signal(event_.get(), &s, SIGINT, on_signal, this); r < 0)
        return sd_error(r, "cannot watch SIGINT");
    sigint_.reset(s);
    // SIGHUP would otherwise kill the daemon with the default action, which systemd's
    // Restart=on-failure counts as a clean exit: say that there is no reload, and keep running.
    if (int r = sd_event_add_signal(
            event_.get(), &s, SIGHUP,
            [](sd_event_source*, const struct signalfd_siginfo*, void*) {
                spdlog::warn("SIGHUP: there is no configuration reload; restart the daemon to apply changes");
                return 0;
            },
            this);
        r < 0)
        return sd_error(r, "cannot watch SIGHUP");
    sighup_.reset(s);
    return Ok{};
}

Status EventLoop::exit_after(std::chrono::microseconds after)
{
    sd_event_source* s = nullptr;
    const int r = sd_event_add_time_relative(
        event_.get(), &s, CLOCK_MONOTONIC, static_cast<uint64_t>(after.count()), 1000,
        [](sd_event_source*, uint64_t, void* self) {
            static_cast<EventLoop*>(self)->exit(0);
            return 0;
        },
        this);
    if (r < 0) return sd_error(r, "cannot add the deadline timer");
    deadline_.reset(s);
    return Ok{};
}

int EventLoop::on_inotify(sd_event_source*, const struct inotify_event* ev, void* self)
{
    auto* loop = static_cast<EventLoop*>(self);
    if (ev->len == 0) return 0;
    try {
        loop->on_file_(ev->name);
    } catch (...) {
        loop->failure_ = std::current_exception();
        loop->exit(1);
    }
    return 0;
}

Status EventLoop::watch_directory(const std::string& dir, std::function<void(const std::string&)> fn)
{
    on_file_ = std::move(fn);
    sd_event_source* s = nullptr;
    const int r = sd_event_add_inotify(event_.get(), &s, dir.c_str(),
                                       IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM, on_inotify, this);
    if (r < 0) return sd_error(r, ("cannot watch " + dir).c_str());
    inotify_.reset(s);
    return Ok{};
}

Status EventLoop::enable_watchdog()
{
    if (int r = sd_event_set_watchdog(event_.get(), 1); r < 0) return sd_error(r, "cannot enable the watchdog");
    return Ok{};
}

int EventLoop::run()
{
    const int r = sd_event_loop(event_.get());
    if (failure_) std::rethrow_exception(failure_);
    return r;
}

void EventLoop::exit(int code)
{
    sd_event_exit(event_.get(), code);
}

}  // namespace xap
