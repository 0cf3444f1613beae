#include "sys/parsers.hpp"

#include <charconv>

namespace xap {
namespace {

Error parse_error(std::string_view path, const std::string& what, std::string_view text)
{
    constexpr std::size_t kShown = 80;
    std::string shown(text.substr(0, kShown));
    if (text.size() > kShown) shown += "...";
    return Error{0, std::string(path) + ": " + what + " (read: \"" + shown + "\")"};
}

bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

// Splits off the next whitespace-separated word of a line.
std::string_view next_word(std::string_view& line)
{
    std::size_t i = 0;
    while (i < line.size() && is_space(line[i])) ++i;
    std::size_t j = i;
    while (j < line.size() && !is_space(line[j])) ++j;
    std::string_view word = line.substr(i, j - i);
    line.remove_prefix(j);
    return word;
}

std::string_view next_line(std::string_view& text)
{
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    return line;
}

bool parse_u64(std::string_view word, std::uint64_t& out)
{
    if (word.empty()) return false;
    auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), out);
    return ec == std::errc() && end == word.data() + word.size();
}

bool is_cpu_n(std::string_view word)
{
    if (word.size() <= 3 || word.substr(0, 3) != "cpu") return false;
    for (char c : word.substr(3))
        if (c < '0' || c > '9') return false;
    return true;
}

// "key value" files (cpu.stat, cgroup.events): the value of one key, or empty if absent.
std::string_view find_key(std::string_view text, std::string_view key)
{
    while (!text.empty()) {
        std::string_view line = next_line(text);
        if (next_word(line) == key) return next_word(line);
    }
    return {};
}

std::string unescape_octal(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            const auto d = s.substr(i + 1, 3);
            if (d[0] >= '0' && d[0] <= '3' && d[1] >= '0' && d[1] <= '7' && d[2] >= '0' && d[2] <= '7') {
                out += static_cast<char>((d[0] - '0') * 64 + (d[1] - '0') * 8 + (d[2] - '0'));
                i += 3;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

Result<bool> parse_flag(std::string_view word, std::string_view key, std::string_view text, std::string_view path)
{
    if (word == "0") return false;
    if (word == "1") return true;
    return parse_error(path, "expected \"" + std::string(key) + " 0\" or \"" + std::string(key) + " 1\"", text);
}

}  // namespace

Result<ProcStatSample> parse_proc_stat(std::string_view text, std::string_view path)
{
    ProcStatSample out;
    bool have_aggregate = false;
    std::string_view rest = text;
    while (!rest.empty()) {
        std::string_view line = next_line(rest);
        std::string_view key = next_word(line);
        if (is_cpu_n(key)) {
            ++out.online_cpus;
            continue;
        }
        if (key != "cpu") {
            if (have_aggregate) break;  // the cpu lines come first; the rest (intr, ctxt...) is not ours
            continue;
        }
        std::size_t n = 0;
        for (std::string_view w = next_word(line); !w.empty(); w = next_word(line), ++n) {
            std::uint64_t v = 0;
            if (!parse_u64(w, v))
                return parse_error(path, "field " + std::to_string(n + 1) + " of the cpu line is not a number", text);
            if (n < CpuTimes::Count) out.aggregate.field[n] = v;
        }
        if (n < 4)
            return parse_error(path, "the cpu line has " + std::to_string(n) + " numbers, at least 4 expected", text);
        have_aggregate = true;
    }
    if (!have_aggregate) return parse_error(path, "no aggregate \"cpu\" line", text);
    // A kernel without cpuN lines is hypothetical; count it as one CPU rather than dividing by zero.
    if (out.online_cpus == 0) out.online_cpus = 1;
    return out;
}

Result<std::uint64_t> parse_cpu_stat_usage(std::string_view text, std::string_view path)
{
    const std::string_view v = find_key(text, "usage_usec");
    std::uint64_t usage = 0;
    if (v.empty()) return parse_error(path, "no usage_usec line", text);
    if (!parse_u64(v, usage)) return parse_error(path, "usage_usec is not a number", text);
    return usage;
}

Result<CgroupEvents> parse_cgroup_events(std::string_view text, std::string_view path)
{
    CgroupEvents ev;
    auto populated = parse_flag(find_key(text, "populated"), "populated", text, path);
    if (!populated) return populated.error();
    ev.populated = populated.value();
    // "frozen" exists since Linux 5.2; without it the freezer is not available at all.
    auto frozen = parse_flag(find_key(text, "frozen"), "frozen", text, path);
    if (!frozen) return frozen.error();
    ev.frozen = frozen.value();
    return ev;
}

Result<bool> parse_cgroup_freeze(std::string_view text, std::string_view path)
{
    std::string_view rest = text;
    std::string_view line = next_line(rest);
    const std::string_view w = next_word(line);
    if (w == "0") return false;
    if (w == "1") return true;
    return parse_error(path, "expected 0 or 1", text);
}

Result<std::vector<MountEntry>> parse_mountinfo(std::string_view text, std::string_view path)
{
    std::vector<MountEntry> out;
    std::size_t line_no = 0;
    while (!text.empty()) {
        std::string_view line = next_line(text);
        ++line_no;
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        std::string_view rest = line;
        std::string_view fields[5];
        for (auto& f : fields) f = next_word(rest);
        const std::size_t sep = rest.find(" - ");
        if (fields[4].empty() || sep == std::string_view::npos)
            return parse_error(path, "line " + std::to_string(line_no) + " is not a mountinfo entry", line);
        rest.remove_prefix(sep + 3);
        MountEntry e;
        e.root = unescape_octal(fields[3]);
        e.mount_point = unescape_octal(fields[4]);
        e.fstype = std::string(next_word(rest));
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace xap
