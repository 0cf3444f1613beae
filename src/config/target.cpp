#include "config/target.hpp"

#include <array>

#include "sys/cgroup_fs.hpp"

namespace xap {
namespace {

// Unit types that own a cgroup.
constexpr std::array<std::string_view, 6> kCgroupUnitSuffixes = {".service", ".scope", ".slice",
                                                                 ".socket",  ".mount", ".swap"};

bool has_cgroup_suffix(const std::string& name)
{
    for (auto s : kCgroupUnitSuffixes)
        if (name.size() > s.size() && name.ends_with(s)) return true;
    return false;
}

}  // namespace

Result<Target> parse_target(const std::string& text)
{
    if (text.starts_with('/')) {
        auto path = normalize_cgroup_path(text);
        if (!path) return path.error();
        return Target{Target::Kind::CgroupPath, *path};
    }
    if (text.empty()) return Error{0, "empty name: expected a unit name like \"xmrig.service\" or a cgroup path"};
    if (text.find('/') != std::string::npos || !has_cgroup_suffix(text))
        return Error{0, "\"" + text +
                            "\" is neither a unit name with a cgroup (.service, .scope, .slice, .socket, .mount, "
                            ".swap) nor a cgroup path starting with \"/\""};
    if (text == "-.slice") return Error{0, "\"-.slice\" is the root slice: the daemon never acts on the root cgroup"};
    return Target{Target::Kind::Unit, text};
}

Result<std::string> conventional_cgroup_path(const std::string& unit)
{
    if (!unit.ends_with(".slice")) return "system.slice/" + unit;
    // systemd nests "a-b-c.slice" as a.slice/a-b.slice/a-b-c.slice.
    const std::string stem = unit.substr(0, unit.size() - 6);
    if (stem.empty() || stem == "-") return Error{0, "\"" + unit + "\" is the root slice"};
    std::string path;
    for (std::size_t dash = stem.find('-'); dash != std::string::npos; dash = stem.find('-', dash + 1))
        path += stem.substr(0, dash) + ".slice/";
    return path + unit;
}

Result<std::string> default_cgroup_path(const Target& t)
{
    if (t.is_unit()) return conventional_cgroup_path(t.name);
    return t.name;
}

bool cgroup_contains(const std::string& outer, const std::string& inner)
{
    return inner == outer || (inner.size() > outer.size() && inner.starts_with(outer) && inner[outer.size()] == '/');
}

}  // namespace xap
