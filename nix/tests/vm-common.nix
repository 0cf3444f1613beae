# The machine both VM tests boot: nixpkgs' services.xmrig with its ExecStart= pointed at the
# project's miner stand-in (no pool needed), and xmrig-auto-pause with short timings.
{ module, package }:
{ lib, ... }:
{
  imports = [ module ];

  virtualisation.cores = 2;
  virtualisation.memorySize = 1024;

  services.xmrig.enable = true;
  # The stand-in has no use for xmrig's MSR tuning or its --dry-run config check.
  hardware.cpu.x86.msr.enable = lib.mkForce false;
  systemd.services.xmrig.serviceConfig = {
    ExecStartPre = lib.mkForce [ ];
    # One busy worker per CPU, each setting its own nice value like xmrig does.
    ExecStart = lib.mkForce "${package.tools}/bin/xap-miner-standin --nice 19 --report-interval 10";
  };

  services.xmrig-auto-pause = {
    enable = true;
    inherit package;
    settings = {
      poll_interval = "100ms";
      stop_debounce = "300ms";
      grace_period = "3s";
      grace_period_max = "6s";
      stop_threshold = 15;
      resume_threshold = 5;
    };
    # 2 % of the 2 CPUs.
    watchedServices.light-game = "0.04 cores";
  };

  # A watched service with light load: 0.1 core = 5 % of the machine, a third of stop_threshold,
  # but over its own threshold.
  systemd.services.light-game = {
    description = "Watched service with a light load";
    serviceConfig.ExecStart = "${package.tools}/bin/xap-cpu-load --threads 1 --duty 10 --period-ms 10";
  };

  environment.systemPackages = [ package.tools ];
}
