// The persisted claim: round trip, atomic replacement, malformed files.
#include <filesystem>

#include "state/claim_store.hpp"
#include "support/catch.hpp"
#include "temp_tree.hpp"

using namespace xap;

TEST_CASE("a claim survives a round trip and leaves no temporary file", "[state]")
{
    test::TempTree t;
    ClaimStore store(t.root().string());
    CHECK_FALSE(store.load()->has_value());
    REQUIRE(store.save({"/sys/fs/cgroup/system.slice/xmrig.service", "cgroup-id:4242", "0123abcd", 1700000000}).ok());
    auto c = store.load();
    REQUIRE(c.ok());
    REQUIRE(c->has_value());
    CHECK((*c)->identity == "cgroup-id:4242");
    CHECK((*c)->miner == "/sys/fs/cgroup/system.slice/xmrig.service");
    CHECK((*c)->since_unix == 1700000000);
    CHECK((*c)->invocation_id == "0123abcd");
    std::size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(t.root())) files += e.is_regular_file();
    CHECK(files == 1);

    REQUIRE(store.clear().ok());
    CHECK_FALSE(store.load()->has_value());
    CHECK(store.clear().ok());  // clearing twice is fine
}

TEST_CASE("a claim is never written without an identity", "[state]")
{
    test::TempTree t;
    ClaimStore store(t.root().string());
    CHECK_FALSE(store.save({"/m", "", "", 1}).ok());
    CHECK_FALSE(store.load()->has_value());
}

TEST_CASE("a malformed claim is an error naming the file and its content", "[state]")
{
    for (const char* content : {"", "{", "[]", R"({"miner": "/m"})", R"({"miner": "/m", "identity": ""})",
                                R"({"miner": 3, "identity": "x"})"}) {
        CAPTURE(content);
        test::TempTree t;
        t.write("claim.json", content);
        auto c = ClaimStore(t.root().string()).load();
        REQUIRE_FALSE(c.ok());
        CHECK(c.error().message.find(t.path("claim.json")) == 0);
        CHECK(c.error().message.find("malformed claim") != std::string::npos);
    }
}

TEST_CASE("an unwritable state directory is an error - not a silent freeze", "[state]")
{
    ClaimStore store("/nonexistent/xap-state");
    auto s = store.save({"/m", "cgroup-id:1", "", 1});
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("/nonexistent/xap-state") != std::string::npos);
}
