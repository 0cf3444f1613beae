#include "real_cgroup.hpp"

#include <atomic>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace xap::test {
namespace fs = std::filesystem;

std::string read_text(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool file_exists(const std::string& path)
{
    return ::access(path.c_str(), F_OK) == 0;
}

static void write_text(const std::string& path, const std::string& value)
{
    std::ofstream out(path);
    out << value;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + value + " to " + path);
}

std::string real_cgroup_unavailable_reason()
{
    if (::geteuid() != 0) return "not running as root (creating cgroups and writing cgroup.freeze need root)";
    auto hierarchy = CgroupFs::discover("/proc");
    if (!hierarchy) return "no usable cgroup v2 hierarchy: " + hierarchy.error().message;
    const std::string probe = (*hierarchy)->mount_point() + "/xap-probe-" + std::to_string(::getpid());
    if (::mkdir(probe.c_str(), 0755) != 0)
        return "cannot create a cgroup under " + (*hierarchy)->mount_point() + ": " + std::strerror(errno);
    std::string reason;
    if (!file_exists(probe + "/cgroup.freeze"))
        reason = "the cgroup v2 freezer (cgroup.freeze) is missing";
    else if (!file_exists(probe + "/cpu.stat"))
        reason = "cpu.stat is missing from cgroup v2";
    ::rmdir(probe.c_str());
    return reason;
}

Process::Process(const std::vector<std::string>& argv, const std::string& cgroup_procs, const std::string& log_path)
{
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ > 0) return;
    // Child: join the cgroup first, so that all of the program's CPU time lands there.
    if (!cgroup_procs.empty()) {
        const int fd = ::open(cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(120);
        ::close(fd);
    }
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log >= 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
}

Process::~Process()
{
    if (reaped_ || pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
}

void Process::signal(int sig) const
{
    if (!reaped_) ::kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds timeout)
{
    int status = 0;
    const auto deadline = SteadyClock::now() + timeout;
    while (!reaped_) {
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            reaped_ = true;
            break;
        }
        if (SteadyClock::now() > deadline) return -1;
        std::this_thread::sleep_for(5ms);
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

ScratchCgroup::ScratchCgroup()
{
    static std::atomic<int> counter{0};
    auto hierarchy = CgroupFs::discover("/proc");
    if (!hierarchy) throw std::runtime_error(hierarchy.error().message);
    mount_ = (*hierarchy)->mount_point();
    rel_ = "xap-it-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    root_ = mount_ + "/" + rel_;
    if (::mkdir(root_.c_str(), 0755) != 0) throw std::runtime_error("cannot create " + root_);
}

std::string ScratchCgroup::make(const std::string& child) const
{
    const std::string p = abs(child);
    if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) throw std::runtime_error("cannot create " + p);
    return p;
}

std::string ScratchCgroup::read(const std::string& child, const std::string& file) const
{
    return read_text(abs(child) + "/" + file);
}

void ScratchCgroup::write(const std::string& child, const std::string& file, const std::string& value) const
{
    write_text(abs(child) + "/" + file, value);
}

bool ScratchCgroup::frozen(const std::string& child) const
{
    return read(child, "cgroup.events").find("frozen 1") != std::string::npos;
}

// Kill everything inside (cgroup.kill, Linux 5.14+, else SIGKILL each pid), thaw so the kill is
// delivered, wait for the cgroup to empty, then remove it.
void ScratchCgroup::remove(const std::string& child) const
{
    const std::string p = abs(child);
    if (!fs::exists(p)) return;
    for (const auto& e : fs::directory_iterator(p))
        if (e.is_directory()) remove(child + "/" + e.path().filename().string());
    try {
        write(child, "cgroup.freeze", "0");
        if (file_exists(p + "/cgroup.kill")) {
            write(child, "cgroup.kill", "1");
        } else {
            std::istringstream procs(read(child, "cgroup.procs"));
            for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
        }
    } catch (const std::exception&) {
    }
    wait_until([&] { return read(child, "cgroup.events").find("populated 0") != std::string::npos; }, 5s);
    ::rmdir(p.c_str());
}

ScratchCgroup::~ScratchCgroup()
{
    if (!fs::exists(root_)) return;
    for (const auto& e : fs::directory_iterator(root_))
        if (e.is_directory()) remove(e.path().filename().string());
    ::rmdir(root_.c_str());
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step)
{
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (SteadyClock::now() > deadline) return false;
        std::this_thread::sleep_for(step);
    }
}

}  // namespace xap::test
