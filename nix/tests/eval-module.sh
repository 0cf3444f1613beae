#!/usr/bin/env bash
# Checks the Nix files on a machine without nixpkgs, a binary cache or flakes (Nix 2.8 is enough):
#
#   (a) every .nix file in the repository parses (nix-instantiate --parse);
#   (b) with XAP_NIXPKGS_LIB (a nixpkgs or nixpkgs.lib checkout), the NixOS module is evaluated
#       with lib.evalModules (nix/tests/eval-module.nix) for a table of cases, and with
#       XAP_DAEMON (a built xmrig-auto-pause) the daemon itself reads every generated file:
#       it must accept the good ones, read the default one exactly as its built-in defaults, and
#       reject (exit 78) every one the module's assertions reject; the unit's ExecStartPre= and
#       ExecStopPost= lines are run as written;
#   (c) with XAP_NIXPKGS_LIB, flake.nix's outputs have the expected names for both systems.
#
#   XAP_NIXPKGS_LIB=/tmp/nixpkgs-lib XAP_DAEMON=build/xmrig-auto-pause nix/tests/eval-module.sh
#
# The module is given a stand-in package laid out from src/units/ as CMake installs it, or, with
# XAP_PACKAGE, a real installed prefix (the Nix package, or `cmake --install build --prefix DIR`);
# XAP_DAEMON then defaults to its bin/xmrig-auto-pause.
#
# Prints PASS/FAIL/SKIPPED lines; exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# Debian's nix-bin warns about its missing nixbld group on every call; nothing here builds.
export NIX_CONFIG="${NIX_CONFIG:+$NIX_CONFIG$'\n'}build-users-group ="

failed=0
pass() { echo "PASS: $*"; }
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
finish() {
    echo "eval-module: $failed failure(s)"
    if ((failed > 0)); then exit 1; fi
    exit 0
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- (a) every .nix file parses ----------------------------------------------------------------

if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -d '' nix_files < <(git -C "$root" ls-files -z --cached --others --exclude-standard -- '*.nix')
    nix_files=("${nix_files[@]/#/$root/}")
else
    mapfile -d '' nix_files < <(find "$root" -name '*.nix' -not -path '*/.git/*' -print0)
fi
if ((${#nix_files[@]} == 0)); then
    fail "no .nix files found under $root"
fi
parsed=0
for f in "${nix_files[@]}"; do
    [[ -f $f ]] || continue # deleted but still in the index
    if nix-instantiate --parse "$f" >/dev/null 2>"$tmp/parse.err"; then
        parsed=$((parsed + 1))
    else
        fail "parse ${f#"$root"/}: $(tr '\n' ' ' <"$tmp/parse.err")"
    fi
done
pass "parse: $parsed .nix file(s)"

if [[ -z ${XAP_NIXPKGS_LIB:-} ]]; then
    echo "SKIPPED: module evaluation (XAP_NIXPKGS_LIB not set)"
    finish
fi
if [[ ! -f $XAP_NIXPKGS_LIB/lib/default.nix && ! -f $XAP_NIXPKGS_LIB/default.nix ]]; then
    fail "XAP_NIXPKGS_LIB=$XAP_NIXPKGS_LIB holds neither lib/default.nix nor default.nix"
    finish
fi
lib_root=$(cd "$XAP_NIXPKGS_LIB" && pwd)

if [[ -n ${XAP_PACKAGE:-} && -z ${XAP_DAEMON:-} ]]; then
    XAP_DAEMON=$XAP_PACKAGE/bin/xmrig-auto-pause
fi
daemon=
if [[ -n ${XAP_DAEMON:-} ]]; then
    if [[ -x $XAP_DAEMON ]]; then
        daemon=$(readlink -f "$XAP_DAEMON")
    else
        fail "XAP_DAEMON=$XAP_DAEMON is not an executable"
        finish
    fi
else
    echo "SKIPPED: daemon cross-checks (XAP_DAEMON not set): generated files are not run through --check-config"
fi

# ---- (b) the module ------------------------------------------------------------------------------

if [[ -n ${XAP_PACKAGE:-} ]]; then
    pkg=$(cd "$XAP_PACKAGE" && pwd)
    units=$pkg/lib/systemd/system
else
    # A stand-in for the package's $out, laid out as src/units/CMakeLists.txt installs it.
    pkg=$tmp/pkg
    units=$pkg/lib/systemd/system
    mkdir -p "$pkg/bin" "$units/xmrig.service.d" "$pkg/etc/xmrig-auto-pause"
    if [[ -n $daemon ]]; then
        ln -s "$daemon" "$pkg/bin/xmrig-auto-pause"
    else
        printf '#!/bin/sh\nexit 0\n' >"$pkg/bin/xmrig-auto-pause"
        chmod +x "$pkg/bin/xmrig-auto-pause"
    fi
    src_units=$root/src/units
    sed -e "s|@XAP_BINDIR@|$pkg/bin|g" \
        -e "s|@XAP_CONFIG_FILE@|$pkg/etc/xmrig-auto-pause/config.json|g" \
        "$src_units/xmrig-auto-pause.service.in" >"$units/xmrig-auto-pause.service"
    if grep -n '@[A-Za-z_]*@' "$units/xmrig-auto-pause.service"; then
        fail "src/units/xmrig-auto-pause.service.in has @VARIABLES@ this script does not substitute; update it"
    fi
    cp "$src_units/xmrig.service" "$units/"
    cp "$src_units"/xmrig.service.d/*.conf "$units/xmrig.service.d/"
    cp "$src_units/config.json" "$pkg/etc/xmrig-auto-pause/"
fi
if [[ ! -f $units/xmrig-auto-pause.service ]]; then
    fail "$units/xmrig-auto-pause.service does not exist"
    finish
fi

# --read-write-mode: the generated files are written to the store, for the daemon to read.
if ! nix-instantiate --eval --strict --json --read-write-mode "$here/eval-module.nix" \
    --argstr nixpkgsLib "$lib_root" --argstr packageDir "$pkg" >"$tmp/cases.json" 2>"$tmp/eval.err"; then
    fail "module evaluation:"
    cat "$tmp/eval.err"
    finish
fi

describe() { # the effective settings line of check-config's output
    "$daemon" check-config --config "$1" 2>&1 | sed -n 2p
}
printf '{}\n' >"$tmp/empty.json"

count=$(jq length "$tmp/cases.json")
for ((i = 0; i < count; i++)); do
    jq ".[$i]" "$tmp/cases.json" >"$tmp/case.json"
    name=$(jq -r .name "$tmp/case.json")
    before=$failed
    while IFS= read -r problem; do
        fail "$name: $problem"
    done < <(jq -r '.failures[]' "$tmp/case.json")

    expect=$(jq -r .daemon "$tmp/case.json")
    file=$(jq -r .configFile "$tmp/case.json")
    if [[ -n $daemon && $expect != null ]]; then
        rc=0
        "$daemon" check-config --config "$file" >"$tmp/out" 2>&1 || rc=$?
        if [[ $expect == accept && $rc != 0 ]]; then
            fail "$name: the daemon rejects the generated $(cat "$file"): $(tr '\n' ' ' <"$tmp/out")"
        elif [[ $expect == reject && $rc != 78 ]]; then
            fail "$name: the module's assertions reject $(cat "$file") but the daemon exits $rc on it (expected 78)"
        fi
        if [[ $(jq -r .compareDefaults "$tmp/case.json") == true ]]; then
            generated=$(describe "$file")
            builtin=$(describe "$tmp/empty.json")
            if [[ $generated != "$builtin" ]]; then
                fail "$name: the generated defaults differ from the daemon's built-in ones:"$'\n'"  generated: $generated"$'\n'"  built-in:  $builtin"
            fi
        fi
    fi

    if [[ $(jq '.commands | length' "$tmp/case.json") != 0 ]]; then
        # The script that takes the daemon's unit, and only it, out of the package.
        script=$(jq -r .commands.unitScript "$tmp/case.json")
        if out=$tmp/unit-out bash -euc "$script" >"$tmp/out" 2>&1; then
            listing=$(cd "$tmp/unit-out/lib/systemd/system" && ls -A)
            if [[ $listing != xmrig-auto-pause.service ]]; then
                fail "$name: the unit package holds [$listing], expected only xmrig-auto-pause.service"
            elif [[ $(readlink -f "$tmp/unit-out/lib/systemd/system/xmrig-auto-pause.service") != "$units/xmrig-auto-pause.service" ]]; then
                fail "$name: the unit package's xmrig-auto-pause.service is not the package's"
            fi
        else
            fail "$name: the unit package script failed: $(tr '\n' ' ' <"$tmp/out")"
        fi
        rm -rf "$tmp/unit-out"
        # The same script on a package that lacks the unit must fail, not link nothing.
        mkdir -p "$tmp/no-unit/lib/systemd/system"
        if out=$tmp/unit-out bash -euc "${script//"$pkg"/$tmp/no-unit}" >"$tmp/out" 2>&1; then
            fail "$name: the unit package script succeeds on a package without xmrig-auto-pause.service"
        fi
        rm -rf "$tmp/unit-out"

        if [[ -n $daemon ]]; then
            # The unit's own command lines, as systemd would run them (no quoting in them).
            read -ra argv <<<"$(jq -r .commands.execStartPre "$tmp/case.json")"
            rc=0
            "${argv[@]}" >"$tmp/out" 2>&1 || rc=$?
            ((rc == 0)) || fail "$name: ExecStartPre= ${argv[*]} exits $rc: $(tr '\n' ' ' <"$tmp/out")"
            read -ra argv <<<"$(jq -r .commands.execStopPost "$tmp/case.json")"
            rc=0
            mkdir -p "$tmp/state"
            STATE_DIRECTORY=$tmp/state "${argv[@]}" >"$tmp/out" 2>&1 || rc=$?
            if ((rc != 0)) || ! grep -q 'nothing to release' "$tmp/out"; then
                fail "$name: ExecStopPost= ${argv[*]} with an empty state directory exits $rc: $(tr '\n' ' ' <"$tmp/out")"
            fi
        fi
    fi
    ((failed == before)) && pass "module: $name"
done

# ---- (c) the flake's outputs -----------------------------------------------------------------

# Names only: nixpkgs itself is a stub whose packages are never forced.
cat >"$tmp/flake-outputs.nix" <<EOF
let
  libRoot = /. + "$lib_root";
  root = /. + "$root";
  lib = import (if builtins.pathExists (libRoot + "/lib/default.nix") then libRoot + "/lib" else libRoot);
  flake = import (root + "/flake.nix");
  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (system: { });
  };
  outputs = flake.outputs { self = outputs // { outPath = root; }; inherit nixpkgs; };
  names = lib.mapAttrs (_: lib.attrNames);
  overlaid = outputs.overlays.default { callPackage = path: args: toString path; } { };
in
{
  nixpkgs = flake.inputs.nixpkgs.url;
  outputs = lib.attrNames outputs;
  packages = names outputs.packages;
  checks = names outputs.checks;
  devShells = names outputs.devShells;
  formatter = lib.attrNames outputs.formatter;
  nixosModules = lib.attrNames outputs.nixosModules;
  overlay = overlaid.xmrig-auto-pause;
}
EOF
if nix-instantiate --eval --strict --json "$tmp/flake-outputs.nix" >"$tmp/flake.json" 2>"$tmp/eval.err"; then
    problems=$(jq -r --arg root "$root" '
      def need($what; $have; $want): ($want - $have) | select(length > 0) | "\($what) lacks \(join(", "))";
      need("outputs"; .outputs; ["checks", "devShells", "formatter", "nixosModules", "overlays", "packages"]),
      need("systems of packages"; .packages | keys; ["aarch64-linux", "x86_64-linux"]),
      need("systems of checks"; .checks | keys; ["aarch64-linux", "x86_64-linux"]),
      need("systems of devShells"; .devShells | keys; ["aarch64-linux", "x86_64-linux"]),
      need("systems of formatter"; .formatter; ["aarch64-linux", "x86_64-linux"]),
      (.packages[] | need("packages"; .; ["default", "xmrig-auto-pause"])),
      (.checks[] | need("checks"; .; ["module-eval", "package", "vm-freeze-thaw", "vm-recovery"])),
      (.devShells[] | need("devShells"; .; ["default"])),
      need("nixosModules"; .nixosModules; ["default", "xmrig-auto-pause"]),
      (select(.overlay != "\($root)/nix/package.nix") | "overlays.default builds \(.overlay)"),
      (select(.nixpkgs | test("^github:NixOS/nixpkgs/nixos-[0-9]+\\.[0-9]+$") | not)
        | "inputs.nixpkgs.url \(.nixpkgs) is not a stable nixos-YY.MM branch")
    ' "$tmp/flake.json")
    if [[ -n $problems ]]; then
        while IFS= read -r p; do fail "flake: $p"; done <<<"$problems"
    else
        pass "flake outputs: $(jq -c '{nixpkgs, checks: .checks["x86_64-linux"]}' "$tmp/flake.json")"
    fi
else
    fail "flake outputs: $(cat "$tmp/eval.err")"
fi

finish
