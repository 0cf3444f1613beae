#include "sys/cgroup_fs.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include "sys/parsers.hpp"

namespace xap {

std::string CgroupFs::display(const std::string& rel) const
{
    if (rel.empty()) return mount_point_;
    return mount_point_ + (mount_point_.ends_with('/') ? "" : "/") + rel;
}

Result<std::shared_ptr<CgroupFs>> CgroupFs::at(const std::string& mount_point)
{
    auto fd = open_at(AT_FDCWD, mount_point, O_PATH | O_DIRECTORY, mount_point);
    if (!fd) return Error{fd.error().errno_value, "cgroup v2 hierarchy: " + fd.error().message};
    return std::make_shared<CgroupFs>(std::move(fd).value(), mount_point, "/");
}

Result<std::shared_ptr<CgroupFs>> CgroupFs::discover(const std::string& proc_root)
{
    const std::string path = proc_root + "/self/mountinfo";
    auto text = read_file_at(AT_FDCWD, path, path);
    if (!text) return text.error();
    auto mounts = parse_mountinfo(*text, path);
    if (!mounts) return mounts.error();

    const MountEntry* found = nullptr;
    std::string v1;
    for (const MountEntry& m : *mounts) {
        if (m.fstype == "cgroup2" && (!found || (found->root != "/" && m.root == "/"))) found = &m;
        if (m.fstype == "cgroup" && v1.empty()) v1 = m.mount_point;
    }
    if (!found)
        return Error{ENOENT, "no cgroup v2 hierarchy is mounted (" + path + " lists no cgroup2 filesystem" +
                                 (v1.empty() ? "" : "; only cgroup v1, e.g. at " + v1) +
                                 "): the freezer needs cgroup v2 (boot with systemd.unified_cgroup_hierarchy=1, "
                                 "or mount -t cgroup2 none /sys/fs/cgroup/unified)"};

    auto fd = open_at(AT_FDCWD, found->mount_point, O_PATH | O_DIRECTORY, found->mount_point);
    if (!fd) return Error{fd.error().errno_value, "cgroup v2 hierarchy: " + fd.error().message};
    struct statfs sfs {};
    if (::fstatfs(fd->get(), &sfs) != 0) return os_error(errno, "cannot statfs", found->mount_point);
    if (sfs.f_type != CGROUP2_SUPER_MAGIC)
        return Error{0, found->mount_point + " is listed as cgroup2 in " + path + " but is not a cgroup2 filesystem"};
    return std::make_shared<CgroupFs>(std::move(fd).value(), found->mount_point, found->root);
}

Result<std::string> normalize_cgroup_path(const std::string& path)
{
    std::string out;
    std::size_t i = 0;
    while (i < path.size()) {
        const std::size_t j = std::min(path.find('/', i), path.size());
        const std::string part = path.substr(i, j - i);
        i = j + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") return Error{0, "cgroup path \"" + path + "\" contains \"..\""};
        out += (out.empty() ? "" : "/") + part;
    }
    if (out.empty()) return Error{0, "cgroup path \"" + path + "\" names the root cgroup"};
    return out;
}

}  // namespace xap
