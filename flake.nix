{
  description = "xmrig-auto-pause: freezes a CPU miner's cgroup while foreground work needs the CPU";

  # The newest stable NixOS release; `nix flake update` moves the lock within the branch.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      packageFor = pkgs: pkgs.callPackage ./nix/package.nix { };
    in
    {
      overlays.default = final: _prev: { xmrig-auto-pause = final.callPackage ./nix/package.nix { }; };

      packages = forAllSystems (
        pkgs:
        let
          xmrig-auto-pause = packageFor pkgs;
        in
        {
          inherit xmrig-auto-pause;
          default = xmrig-auto-pause;
        }
      );

      # Self-contained: the package defaults to pkgs.xmrig-auto-pause when the overlay is applied,
      # else it is built from this tree with the system's own nixpkgs. (An attribute set rather
      # than the bare path: every Nix version's `flake check` accepts it, and errors still name
      # nix/module.nix.)
      nixosModules.default = {
        imports = [ ./nix/module.nix ];
      };
      nixosModules.xmrig-auto-pause = self.nixosModules.default;

      checks = forAllSystems (
        pkgs:
        {
          # The build runs the unit tests (ctest -LE real-cgroup) in its check phase.
          package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        }
        // import ./nix/tests {
          inherit pkgs;
          module = self.nixosModules.default;
          package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ (packageFor pkgs) ];
          packages = [
            pkgs.catch2_3
            pkgs.clang-tools # clang-format, clang-tidy
            pkgs.gdb
            pkgs.jq # nix/tests/eval-module.sh
            pkgs.nixfmt-tree
            pkgs.shellcheck
          ];
        };
      });

      # RFC 166 style (`nixfmt`, formerly nixfmt-rfc-style), over the whole tree: `nix fmt`.
      formatter = forAllSystems (pkgs: pkgs.nixfmt-tree);
    };
}
