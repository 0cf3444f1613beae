#include "state/override_store.hpp"

#include <fcntl.h>

#include <nlohmann/json.hpp>

#include "state/atomic_file.hpp"
#include "sys/fd.hpp"

namespace xap {

std::string to_string(Manual m)
{
    switch (m) {
        case Manual::Pause:
            return "pause";
        case Manual::Resume:
            return "resume";
        case Manual::Auto:
            break;
    }
    return "auto";
}

Manual active_mode(const Override& o, std::int64_t now_unix)
{
    if (o.until_unix && now_unix >= *o.until_unix) return Manual::Auto;
    return o.mode;
}

Result<Override> OverrideStore::load() const
{
    auto text = read_file_at(AT_FDCWD, path(), path());
    if (!text) {
        if (text.error().errno_value == ENOENT) return Override{};
        return text.error();
    }
    try {
        const auto j = nlohmann::json::parse(*text);
        Override o;
        const auto mode = j.at("mode").get<std::string>();
        if (mode == "pause")
            o.mode = Manual::Pause;
        else if (mode == "resume")
            o.mode = Manual::Resume;
        else if (mode != "auto")
            throw std::runtime_error("mode must be pause, resume or auto, got \"" + mode + "\"");
        if (j.contains("until_unix") && !j.at("until_unix").is_null())
            o.until_unix = j.at("until_unix").get<std::int64_t>();
        o.set_unix = j.value("set_unix", std::int64_t{0});
        return o;
    } catch (const std::exception& e) {
        return Error{0, path() + ": malformed override (" + e.what() + "), content: \"" + text->substr(0, 120) + "\""};
    }
}

Status OverrideStore::save(const Override& o) const
{
    nlohmann::json j = {{"mode", to_string(o.mode)}, {"set_unix", o.set_unix}};
    j["until_unix"] = o.until_unix ? nlohmann::json(*o.until_unix) : nlohmann::json(nullptr);
    return atomic_write_file(dir_, kFileName, j.dump() + "\n");
}

Status OverrideStore::clear() const
{
    return remove_file_durably(dir_, kFileName);
}

}  // namespace xap
