#include "sys/fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace xap {

void UniqueFd::reset(int fd)
{
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

Error os_error(int err, std::string_view action, std::string_view path)
{
    return Error{err, std::string(action) + " " + std::string(path) + ": " + std::strerror(err)};
}

Result<UniqueFd> open_at(int dirfd, const std::string& relpath, int flags, std::string_view display_path)
{
    // O_CREAT needs a mode (_FORTIFY_SOURCE aborts without one); what we create is world-readable:
    // status and metrics are meant to be read by other users, claims and overrides hold no secret.
    const int fd = ::openat(dirfd, relpath.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) return os_error(errno, "cannot open", display_path);
    return UniqueFd(fd);
}

namespace {

// Reads from offset 0 to EOF into buf, growing it as needed.
Status pread_all(int fd, std::string& buf, std::string_view path)
{
    if (buf.size() < 4096) buf.resize(4096);
    std::size_t used = 0;
    for (;;) {
        if (used == buf.size()) buf.resize(buf.size() * 2);
        const ssize_t n = ::pread(fd, buf.data() + used, buf.size() - used, static_cast<off_t>(used));
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_error(errno, "cannot read", path);
        }
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    buf.resize(used);
    return Ok{};
}

}  // namespace

// One pread from offset 0 into a buffer with room to spare; a full buffer is doubled and read
// again. The files read this way (/proc/stat, cgroup files) print one record, which a single
// read returns whole, so a short read is the end. Reading on to see EOF would cost a second read
// at an offset, which makes the kernel generate the file a second time: for /proc/stat, half the
// cost of a tick. The buffer is kept between reads and never cleared (clearing 4 KiB was half of
// a tick's instructions).
Result<std::string_view> KernelFile::read()
{
    if (!fd_) return Error{EBADF, path_ + ": not open"};
    if (!buf_) {
        capacity_ = 4096;
        buf_ = std::make_unique<char[]>(capacity_);
    }
    for (;;) {
        const ssize_t n = ::pread(fd_.get(), buf_.get(), capacity_, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_error(errno, "cannot read", path_);
        }
        if (static_cast<std::size_t>(n) < capacity_) return std::string_view(buf_.get(), static_cast<std::size_t>(n));
        capacity_ *= 2;
        buf_ = std::make_unique<char[]>(capacity_);
    }
}

Result<std::string> read_file_at(int dirfd, const std::string& relpath, std::string_view display_path)
{
    auto fd = open_at(dirfd, relpath, O_RDONLY, display_path);
    if (!fd) return fd.error();
    std::string buf;
    if (auto s = pread_all(fd->get(), buf, display_path); !s) return s.error();
    return buf;
}

}  // namespace xap
