# Evaluates nix/module.nix with nixpkgs' lib alone (no nixpkgs, no NixOS, no builds), for
# eval-module.sh. Declares loosely the few NixOS options the module touches, stubs the few pkgs
# functions it calls, and returns one record per case: the expectations that failed, plus what the
# shell script checks with the real daemon (the generated file, the unit's commands).
#
#   nix-instantiate --eval --strict --json nix/tests/eval-module.nix \
#     --argstr nixpkgsLib /path/to/nixpkgs.lib --argstr packageDir /path/to/fake/prefix
{
  # A nixpkgs checkout, a nixpkgs.lib checkout (both have lib/default.nix), or lib itself.
  nixpkgsLib,
  # Stands in for the package's $out: bin/xmrig-auto-pause and lib/systemd/system/*.
  packageDir,
}:

let
  libRoot = /. + nixpkgsLib;
  lib = import (if builtins.pathExists (libRoot + "/lib/default.nix") then libRoot + "/lib" else libRoot);
  inherit (lib) mkOption types;

  jsonValue =
    let
      valueType =
        types.nullOr (
          types.oneOf [
            types.bool
            types.int
            types.float
            types.str
            types.path
            (types.attrsOf valueType)
            (types.listOf valueType)
          ]
        )
        // {
          description = "JSON value";
        };
    in
    valueType;

  stubPkgs = {
    formats.json =
      { }:
      {
        type = jsonValue;
        generate = name: value: builtins.toFile name (builtins.toJSON value);
      };
    # Not built here: eval-module.sh runs the script itself against packageDir.
    runCommandLocal = name: _env: script: {
      type = "derivation";
      inherit name script;
      outPath = "/eval-stub/${name}";
    };
  };

  stubPackage = {
    type = "derivation";
    name = "xmrig-auto-pause-stub";
    outPath = packageDir;
    meta.mainProgram = "xmrig-auto-pause";
  };

  # The NixOS options the module reads or defines, typed loosely.
  upstream = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      warnings = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      environment.etc = mkOption {
        type = types.attrsOf (types.attrsOf types.anything);
        default = { };
      };
      environment.systemPackages = mkOption {
        type = types.listOf types.anything;
        default = [ ];
      };
      systemd.packages = mkOption {
        type = types.listOf types.anything;
        default = [ ];
      };
      systemd.services = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            freeformType = types.attrsOf types.anything;
            options = {
              wantedBy = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              after = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              restartTriggers = mkOption {
                type = types.listOf types.unspecified;
                default = [ ];
              };
              serviceConfig = mkOption {
                type = types.attrsOf types.anything;
                default = { };
              };
            };
          }
        );
      };
      services.xmrig = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
        settings = mkOption {
          type = jsonValue;
          default = { };
        };
      };
    };
  };

  evalCase =
    caseModule:
    (lib.evalModules {
      modules = [
        upstream
        ../module.nix
        { services.xmrig-auto-pause.package = stubPackage; }
        caseModule
      ];
      specialArgs.pkgs = stubPkgs;
    }).config;

  # ---- The package's unit plus the module's drop-in, as systemd would read them -------------

  unitText = builtins.readFile (packageDir + "/lib/systemd/system/xmrig-auto-pause.service");
  # [ { key, value } ] in file order; comments, blank lines and section headers dropped.
  unitAssignments = lib.concatMap (
    line:
    let
      m = builtins.match "([A-Za-z]+)=(.*)" line;
    in
    lib.optional (m != null) {
      key = lib.elemAt m 0;
      value = lib.elemAt m 1;
    }
  ) (lib.splitString "\n" unitText);
  # NixOS writes a list as one line per element, so [ "" "x" ] resets the setting, then sets x.
  overrideAssignments =
    serviceConfig:
    lib.concatLists (
      lib.mapAttrsToList (
        key: v:
        map (value: { inherit key value; }) (lib.toList v)
      ) serviceConfig
    );
  effective =
    serviceConfig: key:
    lib.foldl' (acc: a: if a.key != key then acc else if a.value == "" then [ ] else acc ++ [ a.value ]) [ ] (
      unitAssignments ++ overrideAssignments serviceConfig
    );

  # ---- Expectations ----------------------------------------------------------------------------

  failedAssertions = config: map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  expectEq =
    what: actual: expected:
    lib.optional (actual != expected) "${what}: expected ${builtins.toJSON expected}, got ${builtins.toJSON actual}";
  expectNoAssertions =
    config:
    lib.optional (failedAssertions config != [ ]) "unexpected assertions: ${builtins.toJSON (failedAssertions config)}";
  expectAssertion =
    infix: config:
    lib.optional (!lib.any (lib.hasInfix infix) (failedAssertions config))
      "expected an assertion mentioning \"${infix}\", got ${builtins.toJSON (failedAssertions config)}";
  configJson = config: builtins.fromJSON (builtins.readFile config.services.xmrig-auto-pause.configFile);

  exe = "${packageDir}/bin/xmrig-auto-pause";

  # The unit: the package's, completed (not rewritten) by the module.
  unitChecks =
    config:
    let
      svc = config.systemd.services.xmrig-auto-pause;
      file = config.services.xmrig-auto-pause.configFile;
      eff = effective svc.serviceConfig;
      one = key: lib.last ([ null ] ++ eff key);
      hasSetting = key: value: lib.elem value (eff key);
    in
    expectEq "the module's serviceConfig keys (hardening must come from the package's unit)" (lib.attrNames svc.serviceConfig) [
      "ExecStart"
      "ExecStartPre"
      "ExecStopPost"
    ]
    ++ expectEq "effective ExecStartPre" (eff "ExecStartPre") [ "${exe} --check-config --config ${file}" ]
    ++ expectEq "effective ExecStart" (eff "ExecStart") [ "${exe} --config ${file}" ]
    ++ expectEq "effective ExecStopPost" (eff "ExecStopPost") [ "${exe} release --config ${file}" ]
    ++ expectEq "wantedBy" svc.wantedBy [ "multi-user.target" ]
    ++ expectEq "restartTriggers" svc.restartTriggers [ file ]
    ++ expectEq "Type" (one "Type") "notify"
    ++ expectEq "StateDirectory" (one "StateDirectory") "xmrig-auto-pause"
    ++ expectEq "Restart" (one "Restart") "on-failure"
    ++ expectEq "NoNewPrivileges" (one "NoNewPrivileges") "yes"
    ++ expectEq "ProtectSystem" (one "ProtectSystem") "strict"
    # An empty assignment empties the set; nothing may add capabilities back after it.
    ++ lib.optional (!lib.elem {
      key = "CapabilityBoundingSet";
      value = "";
    } unitAssignments) "no empty CapabilityBoundingSet= in the package's unit"
    ++ expectEq "effective CapabilityBoundingSet" (eff "CapabilityBoundingSet") [ ]
    ++ lib.optional (eff "WatchdogSec" == [ ] || one "WatchdogSec" == "0") "no WatchdogSec="
    ++ lib.optional (!hasSetting "ReadWritePaths" "/sys/fs/cgroup") "/sys/fs/cgroup is not in ReadWritePaths="
    # The daemon writes cgroup.freeze as root: these would make it a no-op (its start-up self-test
    # fails on them).
    ++ lib.optional (lib.elem (one "ProtectControlGroups") [ "yes" "true" "strict" ]) "ProtectControlGroups= is on"
    ++ lib.optional (lib.elem (one "DynamicUser") [ "yes" "true" ]) "DynamicUser= is on"
    ++ lib.optional (eff "User" != [ ]) "User= is set";

  # Everything a case reports; the shell script fails on any `failures` and runs the daemon on
  # `configFile`, expecting it to `accept` or `reject` it.
  case =
    {
      name,
      module,
      expect ? _config: [ ],
      daemon ? "accept",
      compareDefaults ? false,
      runUnit ? false,
    }:
    let
      config = evalCase module;
      cfg = config.services.xmrig-auto-pause;
      svc = config.systemd.services.xmrig-auto-pause;
    in
    {
      inherit name daemon compareDefaults;
      failures = expect config;
      configFile = cfg.configFile;
      # For the shell: the unit's commands with the stub package, and the script that picks the
      # daemon's unit out of the package.
      commands = lib.optionalAttrs runUnit {
        execStartPre = lib.head (effective svc.serviceConfig "ExecStartPre");
        execStopPost = lib.head (effective svc.serviceConfig "ExecStopPost");
        unitScript = (lib.head config.systemd.packages).script;
      };
    };

  # A case whose settings are not even of the right type: evaluation must fail.
  typeErrorCase =
    name: settings:
    let
      config = evalCase {
        services.xmrig-auto-pause = {
          enable = true;
          inherit settings;
        };
      };
      attempt = builtins.tryEval (builtins.deepSeq config.services.xmrig-auto-pause.settings true);
    in
    {
      inherit name;
      daemon = null;
      compareDefaults = false;
      failures = lib.optional attempt.success "settings ${builtins.toJSON settings} were accepted; expected a type error";
      configFile = null;
      commands = { };
    };

  enabled = extra: lib.recursiveUpdate { services.xmrig-auto-pause.enable = true; } extra;
  withSettings = settings: enabled { services.xmrig-auto-pause.settings = settings; };
  bad =
    name: infix: module:
    case {
      inherit name module;
      expect = expectAssertion infix;
      daemon = "reject";
    };
in
[
  (case {
    name = "defaults";
    module = enabled { };
    compareDefaults = true;
    runUnit = true;
    expect =
      config:
      expectNoAssertions config
      # The defaults, written out: the same as the daemon's built-in ones (the shell script
      # compares the daemon's reading of both) and as src/units/config.json, except for
      # grace_period_max, left to the daemon so that a longer grace_period raises it.
      ++ expectEq "default configuration" (configJson config) {
        poll_interval = 0.2;
        grace_period = 15;
        stop_debounce = 0.3;
        stop_threshold = 15;
        resume_threshold = 5;
        miner = "xmrig.service";
        watched = { };
        log_level = "info";
      }
      ++ unitChecks config
      ++ expectEq "ordering after the miner" config.systemd.services.xmrig-auto-pause.after [ "xmrig.service" ]
      ++ expectEq "the miner's Nice=" config.systemd.services.xmrig.serviceConfig.Nice 19
      ++ expectEq "services.xmrig.settings without services.xmrig" config.services.xmrig.settings { }
      ++ expectEq "systemd.packages" (map (p: p.name) config.systemd.packages) [ "xmrig-auto-pause-unit" ]
      ++ expectEq "/etc/xmrig-auto-pause/config.json" config.environment.etc."xmrig-auto-pause/config.json".source
        config.services.xmrig-auto-pause.configFile;
  })

  (case {
    name = "disabled";
    module = { };
    expect =
      config:
      expectNoAssertions config
      ++ expectEq "services" (lib.attrNames config.systemd.services) [ ]
      ++ expectEq "systemd.packages" config.systemd.packages [ ]
      ++ expectEq "environment.etc" config.environment.etc { };
  })

  (case {
    name = "with-nixpkgs-xmrig";
    module = enabled {
      services.xmrig = {
        enable = true;
        settings.cpu.enabled = true;
      };
    };
    expect =
      config:
      expectNoAssertions config
      ++ expectEq "xmrig's cpu settings" config.services.xmrig.settings.cpu {
        enabled = true;
        priority = 0;
      }
      ++ expectEq "the miner's Nice=" config.systemd.services.xmrig.serviceConfig.Nice 19;
  })

  (case {
    name = "miner-settings-overridden";
    module = enabled {
      services.xmrig = {
        enable = true;
        settings.cpu.priority = 2;
      };
      systemd.services.xmrig.serviceConfig.Nice = 5;
    };
    expect =
      config:
      expectNoAssertions config
      ++ expectEq "xmrig's cpu.priority" config.services.xmrig.settings.cpu.priority 2
      ++ expectEq "the miner's Nice=" config.systemd.services.xmrig.serviceConfig.Nice 5;
  })

  (case {
    name = "boolean-xmrig-cpu";
    module = enabled {
      services.xmrig-auto-pause.xmrigIdlePriority = false;
      services.xmrig = {
        enable = true;
        settings.cpu = true;
      };
    };
    expect =
      config:
      expectNoAssertions config ++ expectEq "xmrig's cpu" config.services.xmrig.settings.cpu true;
  })

  (case {
    name = "game-and-media-servers";
    module = enabled {
      services.xmrig-auto-pause = {
        watchedServices = {
          minecraft-server = "1 core";
          jellyfin = 5;
          "steam-game.scope" = "2.5%";
        };
        settings = {
          poll_interval = "200ms";
          grace_period = "2min";
          stop_threshold = "1.5 cores";
          resume_threshold = "0.25 cores";
          watched."/system.slice/backup.service" = 10;
          log_level = "debug";
        };
      };
    };
    expect =
      config:
      expectNoAssertions config
      ++ expectEq "watched" (configJson config).watched {
        "minecraft-server.service" = "1 core";
        "jellyfin.service" = 5;
        "steam-game.scope" = "2.5%";
        "/system.slice/backup.service" = 10;
      }
      ++ expectEq "grace_period_max (unset: the daemon raises it to grace_period)" (
        (configJson config) ? grace_period_max
      ) false;
  })

  (case {
    name = "other-miner-service";
    module = enabled { services.xmrig-auto-pause.minerService = "p2pool-miner"; };
    expect =
      config:
      expectNoAssertions config
      ++ expectEq "miner" (configJson config).miner "p2pool-miner.service"
      ++ expectEq "ordering" config.systemd.services.xmrig-auto-pause.after [ "p2pool-miner.service" ]
      ++ expectEq "the miner's Nice=" config.systemd.services.p2pool-miner.serviceConfig.Nice 19
      ++ expectEq "xmrig untouched" (config.systemd.services ? xmrig) false;
  })

  (case {
    name = "miner-by-cgroup-path";
    module = enabled {
      services.xmrig-auto-pause = {
        minerService = null;
        settings.miner = "/mining.slice/miner.scope";
      };
    };
    expect =
      config:
      expectNoAssertions config
      ++ expectEq "ordering" config.systemd.services.xmrig-auto-pause.after [ ]
      ++ expectEq "services" (lib.attrNames config.systemd.services) [ "xmrig-auto-pause" ];
  })

  (case {
    name = "metrics-file";
    module = withSettings { metrics_file = "/var/lib/node-exporter/xmrig-auto-pause.prom"; };
    expect =
      config:
      expectNoAssertions config
      ++ expectEq "effective ReadWritePaths" (effective config.systemd.services.xmrig-auto-pause.serviceConfig "ReadWritePaths") [
        "/sys/fs/cgroup"
        "-/var/lib/prometheus/node-exporter"
        "-/var/lib/node-exporter"
      ];
  })

  (case {
    name = "limits-accepted";
    module = withSettings {
      poll_interval = "10ms";
      stop_debounce = 60;
      grace_period = 0;
      grace_period_max = "1h";
      stop_threshold = "100%";
      resume_threshold = 0;
    };
    expect = expectNoAssertions;
  })

  (bad "resume-equals-stop" "resume_threshold" (withSettings {
    stop_threshold = 10;
    resume_threshold = 10;
  }))
  (bad "resume-above-stop-percent-strings" "resume_threshold" (withSettings {
    stop_threshold = "10%";
    resume_threshold = "12.5%";
  }))
  (bad "resume-above-stop-cores" "resume_threshold" (withSettings {
    stop_threshold = "0.5 cores";
    resume_threshold = "1 core";
  }))
  (bad "watching-the-miner" "the miner" (enabled { services.xmrig-auto-pause.watchedServices.xmrig = 5; }))
  (bad "watching-the-miner-by-path" "the miner" (withSettings {
    watched."/system.slice/xmrig.service" = 5;
  }))
  (bad "watching-the-miner-slice" "the miner" (withSettings { watched."system.slice" = 50; }))
  (bad "negative-grace-period" "must not be negative" (withSettings { grace_period = -1; }))
  (bad "negative-stop-threshold" "must not be negative" (withSettings { stop_threshold = "-5%"; }))
  (bad "negative-watched-threshold" "must not be negative" (enabled {
    services.xmrig-auto-pause.watchedServices.jellyfin = -1;
  }))
  (bad "threshold-above-100-percent" "at most 100" (withSettings { stop_threshold = "150%"; }))
  (bad "poll-interval-too-short" "between 10ms and 60s" (withSettings { poll_interval = "5ms"; }))
  (bad "poll-interval-too-long" "between 10ms and 60s" (withSettings { poll_interval = "2min"; }))
  (bad "grace-period-max-below-grace" "grace_period_max" (withSettings {
    grace_period = "30s";
    grace_period_max = 20;
  }))
  (bad "stop-debounce-too-long" "at most 60s" (withSettings { stop_debounce = "2min"; }))
  (bad "stop-threshold-zero" "must be above 0" (withSettings {
    stop_threshold = 0;
    resume_threshold = 0;
  }))
  (case {
    name = "minerService-with-suffix";
    module = enabled { services.xmrig-auto-pause.minerService = "xmrig.service"; };
    # "xmrig.service.service" is a well-formed unit name: only the module can tell.
    expect = expectAssertion "without \".service\"";
  })
  # A module-level inconsistency only: the daemon itself is happy with another miner.
  (case {
    name = "miner-without-minerService";
    module = withSettings { miner = "other.service"; };
    expect = expectAssertion "minerService";
  })

  (typeErrorCase "duration-word" { poll_interval = "fast"; })
  (typeErrorCase "threshold-unit" { stop_threshold = "15 percent"; })
  (typeErrorCase "log-level" { log_level = "verbose"; })
  (typeErrorCase "relative-metrics-file" { metrics_file = "xmrig-auto-pause.prom"; })
]
