# The flake's checks besides the package itself:
#   nix build .#checks.x86_64-linux.vm-freeze-thaw -L
{
  pkgs,
  module,
  package,
}:
{
  # The module evaluated against nixpkgs' lib, every generated file read by the built daemon.
  module-eval = pkgs.callPackage ./module-eval.nix {
    inherit package;
    nixpkgsPath = pkgs.path;
  };
  # NixOS VMs: nixpkgs' services.xmrig running the miner stand-in, this module pausing it.
  vm-freeze-thaw = pkgs.testers.runNixOSTest (import ./vm-freeze-thaw.nix { inherit module package; });
  vm-recovery = pkgs.testers.runNixOSTest (import ./vm-recovery.nix { inherit module package; });
}
