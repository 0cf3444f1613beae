// Entry point of the real-cgroup tests: checks the machine first, and says why it cannot run them.
#define CATCH_CONFIG_RUNNER
#include <cstdio>
#include <cstdlib>
#include <string>

#include "real_cgroup.hpp"
#include "support/catch.hpp"
#if defined(XAP_CATCH3)
#include <catch2/catch_session.hpp>
#endif

int main(int argc, char** argv)
{
    const std::string reason = xap::test::real_cgroup_unavailable_reason();
    if (!reason.empty()) {
        const char* required = std::getenv("XAP_REQUIRE_REAL_CGROUP");
        if (required && std::string(required) == "1") {
            std::fprintf(stderr,
                         "FAIL: the real-cgroup tests must run here (XAP_REQUIRE_REAL_CGROUP=1) but "
                         "cannot: %s\n",
                         reason.c_str());
            return 1;
        }
        std::fprintf(stderr, "SKIPPED: real-cgroup tests not run: %s\n", reason.c_str());
        return 77;
    }
    return Catch::Session().run(argc, argv);
}
