// Result<T>: the value-or-error shape used by everything reachable from a tick.
// (std::expected is C++23; Debian 12's g++ 12 builds this project as C++20.)
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace xap {

struct Error {
    int errno_value = 0;  // 0 when the error is not an OS error (a parse error, say)
    std::string message;  // names the path and the offending value

    // ENOENT/ENODEV on a cgroup file means "the cgroup went away": a normal state, not a fault.
    [[nodiscard]] bool is_gone() const { return errno_value == ENOENT || errno_value == ENODEV; }
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    [[nodiscard]] bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }
    [[nodiscard]] const T& value() const& { return std::get<T>(v_); }
    [[nodiscard]] T& value() & { return std::get<T>(v_); }
    [[nodiscard]] T&& value() && { return std::get<T>(std::move(v_)); }
    [[nodiscard]] const Error& error() const { return std::get<Error>(v_); }
    const T* operator->() const { return &value(); }
    const T& operator*() const { return value(); }

private:
    std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace xap
