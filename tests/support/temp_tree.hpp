// TempTree: a throwaway directory in which tests build fake /proc and cgroup trees.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <stdlib.h>

namespace xap::test {

class TempTree {
public:
    TempTree()
    {
        std::string tmpl = (std::filesystem::temp_directory_path() / "xap-test-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        root_ = tmpl;
    }
    ~TempTree()
    {
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }
    TempTree(const TempTree&) = delete;
    TempTree& operator=(const TempTree&) = delete;

    [[nodiscard]] const std::filesystem::path& root() const { return root_; }
    [[nodiscard]] std::string path(const std::string& rel) const { return (root_ / rel).string(); }

    // Writes root/rel, creating parent directories.
    void write(const std::string& rel, const std::string& content) const
    {
        const auto p = root_ / rel;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::trunc) << content;
    }
    [[nodiscard]] std::string read(const std::string& rel) const
    {
        std::ifstream in(root_ / rel);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    void mkdir(const std::string& rel) const { std::filesystem::create_directories(root_ / rel); }
    void remove(const std::string& rel) const { std::filesystem::remove_all(root_ / rel); }

    // A fake cgroup directory with the files the daemon reads.
    void cgroup(const std::string& rel, std::uint64_t usage_usec, bool populated = true, bool freeze = false,
                bool frozen = false) const
    {
        write(rel + "/cpu.stat", "usage_usec " + std::to_string(usage_usec) + "\nuser_usec 0\nsystem_usec 0\n");
        write(rel + "/cgroup.events",
              std::string("populated ") + (populated ? "1" : "0") + "\nfrozen " + (frozen ? "1" : "0") + "\n");
        write(rel + "/cgroup.freeze", freeze ? "1\n" : "0\n");
    }

private:
    std::filesystem::path root_;
};

}  // namespace xap::test
