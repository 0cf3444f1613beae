#include "sys/cgroup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace xap {
namespace {

constexpr const char* kFileNames[] = {"cpu.stat", "cgroup.events", "cgroup.freeze"};

}  // namespace

Cgroup::Cgroup(std::shared_ptr<const CgroupFs> fs, std::string rel_path) : fs_(std::move(fs)), rel_(std::move(rel_path))
{
}

void Cgroup::close()
{
    for (auto& f : files_) f = KernelFile();
    dir_.reset();
    id_.reset();
}

void Cgroup::set_path(const std::string& rel_path)
{
    if (rel_path == rel_) return;
    close();
    rel_ = rel_path;
}

Result<bool> Cgroup::open_dir()
{
    if (dir_) return true;
    if (rel_.empty()) return false;  // never the root cgroup
    auto fd = open_at(fs_->dirfd(), rel_, O_PATH | O_DIRECTORY, display());
    if (!fd) {
        if (fd.error().is_gone()) return false;
        return fd.error();
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return os_error(errno, "cannot stat", display());
    dir_ = std::move(fd).value();
    id_ = static_cast<std::uint64_t>(st.st_ino);
    return true;
}

// Two attempts: the first may find the fds of a removed instance (ENODEV); the second opens
// whatever lives at the path now, or finds nothing.
Result<std::optional<std::string_view>> Cgroup::read(Slot slot)
{
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto present = open_dir();
        if (!present) return present.error();
        if (!*present) return std::optional<std::string_view>();
        KernelFile& f = files_[slot];
        if (!f.is_open()) {
            auto fd = open_at(dir_.get(), kFileNames[slot], O_RDONLY, display(kFileNames[slot]));
            if (!fd) {
                if (!fd.error().is_gone()) return fd.error();
                close();
                continue;
            }
            f = KernelFile(std::move(fd).value(), display(kFileNames[slot]));
        }
        auto text = f.read();
        if (text) return std::optional<std::string_view>(*text);
        if (!text.error().is_gone()) return text.error();
        close();
    }
    return std::optional<std::string_view>();
}

Result<std::optional<CgroupUsage>> Cgroup::usage()
{
    auto text = read(CpuStat);
    if (!text) return text.error();
    if (!*text) return std::optional<CgroupUsage>();
    auto usec = parse_cpu_stat_usage(**text, files_[CpuStat].path());
    if (!usec) return usec.error();
    return std::optional<CgroupUsage>(CgroupUsage{*id_, *usec});
}

Result<std::optional<CgroupEvents>> Cgroup::events()
{
    auto text = read(Events);
    if (!text) return text.error();
    if (!*text) return std::optional<CgroupEvents>();
    auto ev = parse_cgroup_events(**text, files_[Events].path());
    if (!ev) return ev.error();
    return std::optional<CgroupEvents>(*ev);
}

Result<std::optional<bool>> Cgroup::freeze_requested()
{
    auto text = read(Freeze);
    if (!text) return text.error();
    if (!*text) return std::optional<bool>();
    auto v = parse_cgroup_freeze(**text, files_[Freeze].path());
    if (!v) return v.error();
    return std::optional<bool>(*v);
}

Status Cgroup::request_freeze(bool frozen)
{
    const std::string path = display("cgroup.freeze");
    if (!dir_) return Error{ENOENT, "cannot write " + path + ": the cgroup is not open"};
    auto fd = open_at(dir_.get(), "cgroup.freeze", O_WRONLY | O_TRUNC, path);
    if (!fd) return fd.error();
    const char* value = frozen ? "1" : "0";
    if (::write(fd->get(), value, 1) != 1)
        return os_error(errno, frozen ? "cannot write 1 to" : "cannot write 0 to", path);
    return Ok{};
}

}  // namespace xap
