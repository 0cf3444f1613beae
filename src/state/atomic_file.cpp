#include "state/atomic_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/fd.hpp"

namespace xap {
namespace {

Status write_all(int fd, const std::string& content, const std::string& path)
{
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_error(errno, "cannot write", path);
        }
        done += static_cast<std::size_t>(n);
    }
    return Ok{};
}

Status sync_dir(int dirfd, const std::string& dir)
{
    if (::fsync(dirfd) != 0) return os_error(errno, "cannot fsync", dir);
    return Ok{};
}

}  // namespace

Status atomic_write_file(const std::string& dir, const std::string& name, const std::string& content, Sync sync)
{
    auto dfd = open_at(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, dir);
    if (!dfd) return dfd.error();
    const std::string tmp = "." + name + ".tmp";
    const std::string tmp_path = dir + "/" + tmp;
    auto fd = open_at(dfd->get(), tmp, O_WRONLY | O_CREAT | O_TRUNC, tmp_path);
    if (!fd) return fd.error();
    if (auto s = write_all(fd->get(), content, tmp_path); !s) {
        ::unlinkat(dfd->get(), tmp.c_str(), 0);
        return s;
    }
    if (sync == Sync::Durable && ::fsync(fd->get()) != 0) {
        const int err = errno;
        ::unlinkat(dfd->get(), tmp.c_str(), 0);
        return os_error(err, "cannot fsync", tmp_path);
    }
    if (::renameat(dfd->get(), tmp.c_str(), dfd->get(), name.c_str()) != 0) {
        const int err = errno;
        ::unlinkat(dfd->get(), tmp.c_str(), 0);
        return os_error(err, "cannot rename " + tmp_path + " to", dir + "/" + name);
    }
    return sync == Sync::Durable ? sync_dir(dfd->get(), dir) : Status(Ok{});
}

Status remove_file_durably(const std::string& dir, const std::string& name)
{
    auto dfd = open_at(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, dir);
    if (!dfd) return dfd.error();
    if (::unlinkat(dfd->get(), name.c_str(), 0) != 0) {
        if (errno == ENOENT) return Ok{};
        return os_error(errno, "cannot remove", dir + "/" + name);
    }
    return sync_dir(dfd->get(), dir);
}

Status ensure_directory(const std::string& dir)
{
    std::string path;
    std::size_t i = 0;
    while (i <= dir.size()) {
        const std::size_t j = std::min(dir.find('/', i), dir.size());
        path = dir.substr(0, j);
        i = j + 1;
        if (path.empty()) continue;
        if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return os_error(errno, "cannot create", path);
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return os_error(errno, "cannot stat", dir);
    if (!S_ISDIR(st.st_mode)) return Error{ENOTDIR, dir + " is not a directory"};
    return Ok{};
}

}  // namespace xap
