#include "state/claim_store.hpp"

#include <fcntl.h>

#include <nlohmann/json.hpp>

#include "state/atomic_file.hpp"
#include "sys/fd.hpp"

namespace xap {

ClaimStore::ClaimStore(std::string state_dir) : dir_(std::move(state_dir)) {}

Result<std::optional<Claim>> ClaimStore::load() const
{
    auto text = read_file_at(AT_FDCWD, path(), path());
    if (!text) {
        if (text.error().errno_value == ENOENT) return std::optional<Claim>();
        return text.error();
    }
    try {
        const auto j = nlohmann::json::parse(*text);
        Claim c;
        c.miner = j.at("miner").get<std::string>();
        c.identity = j.at("identity").get<std::string>();
        c.invocation_id = j.value("invocation_id", std::string());
        c.since_unix = j.value("since_unix", std::int64_t{0});
        if (c.identity.empty()) throw std::runtime_error("empty identity");
        return std::optional<Claim>(c);
    } catch (const std::exception& e) {
        std::string shown = text->substr(0, 120);
        return Error{0, path() + ": malformed claim (" + e.what() + "), content: \"" + shown + "\""};
    }
}

Status ClaimStore::save(const Claim& claim) const
{
    if (claim.identity.empty()) return Error{0, "refusing to write a claim without a miner identity"};
    const nlohmann::json j = {{"miner", claim.miner},
                              {"identity", claim.identity},
                              {"invocation_id", claim.invocation_id},
                              {"since_unix", claim.since_unix}};
    return atomic_write_file(dir_, kFileName, j.dump() + "\n");
}

Status ClaimStore::clear() const
{
    return remove_file_durably(dir_, kFileName);
}

}  // namespace xap
