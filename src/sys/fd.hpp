// Owned file descriptors and whole-file reads relative to a directory fd.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "util/result.hpp"

namespace xap {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept
    {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    [[nodiscard]] int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

// An Error from errno, naming what was done to which path.
Error os_error(int err, std::string_view action, std::string_view path);

Result<UniqueFd> open_at(int dirfd, const std::string& relpath, int flags, std::string_view display_path);

// A kernel file opened once and re-read from offset 0 every tick: /proc and cgroupfs files are
// regenerated on each read from the start, so a kept fd saves an open and a close per read.
// Only for files the kernel prints as one record (/proc/stat, cgroup interface files): one read
// returns them whole.
class KernelFile {
public:
    KernelFile() = default;
    KernelFile(UniqueFd fd, std::string display_path) : fd_(std::move(fd)), path_(std::move(display_path)) {}

    // The whole file as text; valid until the next read. ENOENT/ENODEV: the object is gone.
    Result<std::string_view> read();
    [[nodiscard]] bool is_open() const { return static_cast<bool>(fd_); }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    UniqueFd fd_;
    std::string path_;
    std::unique_ptr<char[]> buf_;  // uninitialised: only the bytes read are ever looked at
    std::size_t capacity_ = 0;
};

// Opens, reads whole and closes: for files read once (mountinfo, the claim).
Result<std::string> read_file_at(int dirfd, const std::string& relpath, std::string_view display_path);

}  // namespace xap
