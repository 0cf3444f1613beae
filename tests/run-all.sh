#!/usr/bin/env bash
# The whole test suite, as CI runs it: a warnings-as-errors build with every test (unit, tools,
# real cgroups), the same under AddressSanitizer/UndefinedBehaviorSanitizer, and every further
# stage: Nix checks, packaging, a quick benchmark run, and the VM bench (the daemon, then the .deb,
# under systemd as PID 1).
# Real-cgroup tests need root and cgroup v2; they skip with a reason elsewhere, and fail instead of
# skipping when XAP_REQUIRE_REAL_CGROUP=1 (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
# What the build and the tests need, from Debian's archive (nothing when it is all there).
bash .ci/install-deps.sh

jobs=$(nproc)
passed=0
failed=0
failures=()

# stage NAME COMMAND...: runs one stage, counts it, keeps going so that one run shows every failure.
stage() {
  local name=$1; shift
  printf '\n=== %s ===\n' "$name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); printf '=== %s: PASS (%ss) ===\n' "$name" $((SECONDS - start))
  else
    failed=$((failed + 1)); failures+=("$name"); printf '=== %s: FAIL (%ss) ===\n' "$name" $((SECONDS - start))
  fi
}

build() {  # build DIR CMAKE-ARGS...
  local dir=$1; shift
  cmake -S . -B "$dir" -DXAP_WERROR=ON "$@" >/dev/null && cmake --build "$dir" -j"$jobs"
}

format_check() {
  git ls-files -z '*.cpp' '*.hpp' | xargs -0 clang-format --dry-run --Werror
}
stage "clang-format" format_check
stage "build (RelWithDebInfo, -Werror)" build build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo
stage "tests: unit, tools, real cgroups" ctest --test-dir build/test --output-on-failure
stage "build (ASan+UBSan)" build build/asan -DCMAKE_BUILD_TYPE=Debug -DXAP_SANITIZE=ON
stage "tests under ASan+UBSan" ctest --test-dir build/asan --output-on-failure
# The further stages test the binary built above.
export XAP_DAEMON="$PWD/build/test/xmrig-auto-pause" XAP_BUILD_DIR="$PWD/build/test"
stage "Nix: parse every .nix file, evaluate the NixOS module" nix/tests/eval-module.sh
rm -rf build/deb
stage "Debian package: build, lintian, systemd-analyze" debian/build-and-lint.sh build/deb
rpm_check() { XAP_DEB=$(ls build/deb/xmrig-auto-pause_*.deb) rpm/build-and-check.sh; }
stage "RPM: build, rpmlint, same payload as the .deb" rpm_check
# The benchmark's every path, briefly (its figures need a quiet machine and the full run; a
# verdict never fails the suite, a harness error does).
bench_quick() { tests/bench/run.py --build build/test --quick --out build/bench-quick.json; }
stage "benchmark (quick mode: harness check, figures indicative only)" bench_quick
vm_smoke() { tests/vm/install-deps.sh && tests/vm/run-vm.sh tests/vm/smoke --timeout 600; }
stage "VM (systemd as PID 1): bench smoke" vm_smoke
stage "VM (systemd as PID 1): systemd scenarios" tests/vm/run-scenarios.sh build/test
stage "VM (systemd as PID 1): the .deb installed with apt, reboot and poweroff" \
  tests/vm/run-package.sh build/deb build/test

printf '\n'
[ ${#failures[@]} -eq 0 ] || printf 'failed stages: %s\n' "${failures[*]}"
printf 'stages: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
