#include "app/logging.hpp"

#include <cstdlib>
#include <cstdio>
#include <sys/stat.h>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace xap {
namespace {

// "<6>" for info and so on: the journal takes the priority from this prefix.
class SyslogPriority final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override
    {
        const char* p = "<6>";
        switch (msg.level) {
            case spdlog::level::trace:
            case spdlog::level::debug:
                p = "<7>";
                break;
            case spdlog::level::info:
                p = "<6>";
                break;
            case spdlog::level::warn:
                p = "<4>";
                break;
            case spdlog::level::err:
                p = "<3>";
                break;
            case spdlog::level::critical:
                p = "<2>";
                break;
            default:
                break;
        }
        dest.append(p, p + 3);
    }
    [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override
    {
        return std::make_unique<SyslogPriority>();
    }
};

spdlog::level::level_enum parse_level(const std::string& level)
{
    if (level == "debug") return spdlog::level::debug;
    if (level == "warning") return spdlog::level::warn;
    if (level == "error") return spdlog::level::err;
    return spdlog::level::info;
}

}  // namespace

bool stderr_is_journal()
{
    const char* js = std::getenv("JOURNAL_STREAM");
    if (!js) return false;
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (::fstat(2, &st) != 0) return false;
    return st.st_dev == dev && st.st_ino == ino;
}

void setup_logging(const std::string& level)
{
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    auto logger = std::make_shared<spdlog::logger>("xmrig-auto-pause", sink);
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    if (stderr_is_journal())
        formatter->add_flag<SyslogPriority>('*').set_pattern("%*%v");
    else
        formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %-7l %v");
    logger->set_formatter(std::move(formatter));
    logger->set_level(parse_level(level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

void log_problem_change(std::string& last, const std::string& now, spdlog::level::level_enum level,
                        const std::string& what, const char* recovered)
{
    if (now == last) return;
    if (!now.empty())
        spdlog::log(level, "{}: {}", what, now);
    else
        spdlog::info("{}: {}", what, recovered);
    last = now;
}

}  // namespace xap
