// RAII for sd-event: one loop, its sources owned by smart pointers, SIGTERM/SIGINT as events.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <sys/inotify.h>

#include <systemd/sd-event.h>

#include "util/result.hpp"

namespace xap {

struct SdEventUnref {
    void operator()(sd_event* e) const { sd_event_unref(e); }
};
struct SdEventSourceUnref {
    void operator()(sd_event_source* s) const { sd_event_source_disable_unref(s); }
};
using EventSourcePtr = std::unique_ptr<sd_event_source, SdEventSourceUnref>;

class EventLoop {
public:
    static Result<std::unique_ptr<EventLoop>> create();

    // Calls fn now and then every interval on CLOCK_MONOTONIC (1 ms accuracy: sd-event's default
    // of 250 ms would be longer than the poll interval itself).
    Status every(std::chrono::microseconds interval, std::function<void()> fn);
    // The next call of the `every` function comes this long from now instead (once; the interval
    // then resumes from that call).
    Status call_again_in(std::chrono::microseconds after);
    // Ends the loop with exit code 0 on SIGTERM or SIGINT (blocked so they arrive as events); SIGHUP
    // is logged and otherwise ignored.
    Status exit_on_termination_signals();
    // Ends the loop with exit code 0 after this long.
    Status exit_after(std::chrono::microseconds after);
    // Calls fn with the file name whenever a file in dir is written, renamed into place or removed.
    Status watch_directory(const std::string& dir, std::function<void(const std::string& name)> fn);
    // Sends WATCHDOG=1 at half of $WATCHDOG_USEC when the unit sets WatchdogSec=.
    Status enable_watchdog();

    // Returns the exit code given to exit(); rethrows what a timer callback threw.
    int run();
    void exit(int code);

    [[nodiscard]] sd_event* get() const { return event_.get(); }

private:
    explicit EventLoop(sd_event* e) : event_(e) {}
    static int on_timer(sd_event_source* s, uint64_t usec, void* self);
    static int on_inotify(sd_event_source* s, const struct inotify_event* ev, void* self);
    static int on_signal(sd_event_source* s, const struct signalfd_siginfo* si, void* self);

    std::unique_ptr<sd_event, SdEventUnref> event_;
    EventSourcePtr timer_;
    EventSourcePtr sigterm_;
    EventSourcePtr sigint_;
    EventSourcePtr sighup_;
    EventSourcePtr inotify_;
    EventSourcePtr deadline_;
    std::function<void(const std::string&)> on_file_;
    std::chrono::microseconds interval_{};
    bool rescheduled_ = false;  // call_again_in() ran during the current call
    std::function<void()> tick_;
    std::exception_ptr failure_;
};

}  // namespace xap
