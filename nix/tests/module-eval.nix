# eval-module.sh in the build sandbox, against this nixpkgs' own lib and the built package (its
# real installed unit, its real daemon), with a private store for the generated files, the way
# nixpkgs runs its lib tests (lib/tests/test-with-nix.nix).
{
  lib,
  runCommand,
  nix,
  jq,
  package,
  nixpkgsPath,
}:

runCommand "xmrig-auto-pause-module-eval"
  {
    src = lib.fileset.toSource {
      root = ../..;
      fileset = lib.fileset.unions [
        (lib.fileset.fileFilter (file: file.hasExt "nix") ../..)
        ../../src/units
        ./eval-module.sh
      ];
    };
    nativeBuildInputs = [
      nix
      jq
    ];
  }
  ''
    export TEST_ROOT=$PWD/test-tmp
    export HOME=$TEST_ROOT/home
    export NIX_BUILD_HOOK=
    export NIX_CONF_DIR=$TEST_ROOT/etc
    export NIX_LOCALSTATE_DIR=$TEST_ROOT/var
    export NIX_LOG_DIR=$TEST_ROOT/var/log/nix
    export NIX_STATE_DIR=$TEST_ROOT/var/nix
    export NIX_STORE_DIR=$TEST_ROOT/store
    export PAGER=cat
    mkdir -p "$HOME" "$NIX_CONF_DIR"
    nix-store --init

    cp -r --no-preserve=mode "$src" source
    XAP_NIXPKGS_LIB=${nixpkgsPath} XAP_PACKAGE=${package} bash source/nix/tests/eval-module.sh
    touch "$out"
  ''
