# xmrig-auto-pause built with the project's own CMakeLists.txt, so the binary, the systemd
# units and the default config are installed exactly as for the .deb (NixOS takes the unit
# from $out/lib/systemd/system through systemd.packages, see module.nix).
{
  lib,
  stdenv,
  cmake,
  pkg-config,
  systemdLibs,
  nlohmann_json,
  spdlog,
  fmt,
  catch2_3,
}:

let
  # The version is written once, in CMakeLists.txt's project() line.
  cmakeLines = lib.splitString "\n" (builtins.readFile ../CMakeLists.txt);
  versionMatches = lib.filter (m: m != null) (
    map (builtins.match "project\\(xmrig-auto-pause VERSION ([0-9.]+)[ )].*") cmakeLines
  );
  version =
    if versionMatches == [ ] then
      throw "nix/package.nix: no `project(xmrig-auto-pause VERSION x.y.z ...)` line in CMakeLists.txt"
    else
      lib.head (lib.head versionMatches);
in
stdenv.mkDerivation (finalAttrs: {
  pname = "xmrig-auto-pause";
  inherit version;

  # What the CMake build reads: editing the Debian VM bench, the demo or the Nix files does not
  # rebuild the package.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../CMakeLists.txt
      ../src
      (lib.fileset.maybeMissing ../docs) # man pages
      (lib.fileset.difference ../tests (
        lib.fileset.unions [
          (lib.fileset.maybeMissing ../tests/vm)
          (lib.fileset.maybeMissing ../tests/demo)
        ]
      ))
    ];
  };

  # `tools`: the miner stand-in and load generators the NixOS VM tests run (nix/tests). They are
  # built by every configuration (CMakeLists.txt always adds tests/tools) but have no install()
  # rule, so postInstall copies them; nothing in `out` refers to them.
  outputs = [
    "out"
    "tools"
  ];

  strictDeps = true;
  nativeBuildInputs = [
    cmake
    pkg-config
  ];
  buildInputs = [
    systemdLibs
    nlohmann_json
    spdlog
    fmt
  ];
  checkInputs = [ catch2_3 ];

  cmakeFlags = [
    (lib.cmakeBool "XAP_BUILD_TESTS" finalAttrs.doCheck)
    # Explicit, so a future default taken from systemd's pkg-config file cannot point the units
    # into systemd's own store path.
    (lib.cmakeFeature "XAP_SYSTEMD_UNIT_DIR" "${placeholder "out"}/lib/systemd/system")
  ];

  # catch_discover_tests runs the test binary at build time, so tests need a runnable host.
  doCheck = stdenv.buildPlatform.canExecute stdenv.hostPlatform;
  # The real-cgroup tests need root and a writable cgroup v2 tree, which the build sandbox never
  # has; they are excluded by their CTest label (they still build), everything else runs: the
  # unit tests (label `unit`) and the tools' smoke tests (label `tools`).
  checkPhase = ''
    runHook preCheck
    ctest --output-on-failure -j "$NIX_BUILD_CORES" -LE real-cgroup
    runHook postCheck
  '';

  postInstall = ''
    for tool in xap-miner-standin xap-cpu-load xap-pointer-chase xap-request-loop; do
      install -Dm755 "tests/tools/$tool" "$tools/bin/$tool"
    done
  '';

  doInstallCheck = true;
  installCheckPhase = ''
    runHook preInstallCheck
    "$out/bin/xmrig-auto-pause" --version | grep -F ${lib.escapeShellArg finalAttrs.version}
    "$tools/bin/xap-miner-standin" --help >/dev/null
    runHook postInstallCheck
  '';

  meta = {
    description = "Freezes a CPU miner's cgroup while foreground work needs the CPU";
    longDescription = ''
      A small daemon that watches system-wide CPU use (and optionally chosen services) and
      freezes a miner's cgroup v2 (cgroup.freeze) while foreground work needs the CPU, then
      thaws it after a quiet grace period.
    '';
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "xmrig-auto-pause";
  };
})
