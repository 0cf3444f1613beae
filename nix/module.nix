# NixOS module: services.xmrig-auto-pause.
#
# The unit is the package's own xmrig-auto-pause.service (the one the .deb ships), so its
# hardening, watchdog, restart policy and ExecStopPost= safety net are written once, in
# src/units/. This module only adds what NixOS must: the generated configuration file in the
# three Exec lines, wantedBy (NixOS never runs `systemctl enable`), the ordering after the
# miner, and restartTriggers.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.xmrig-auto-pause;
  json = pkgs.formats.json { };
  inherit (lib) mkOption types;

  # ---- The value forms the daemon accepts (src/config/config.cpp) ---------------------------

  numberRe = "[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?";
  durationRe = "[[:space:]]*(${numberRe})[[:space:]]*(ms|s|sec|m|min|h)?[[:space:]]*";
  thresholdRe = "[[:space:]]*(${numberRe})[[:space:]]*(%|cores?)[[:space:]]*";

  durationType = types.either types.number (types.strMatching durationRe);
  thresholdType = types.either types.number (types.strMatching thresholdRe);

  # Plain decimals only; anything fancier ("1e3ms") gives null, and the checks below that need
  # the number are skipped. The daemon still validates it: ExecStartPre= runs --check-config.
  parseNumber =
    s:
    if builtins.match "-?(0|[1-9][0-9]*)([.][0-9]+)?" s != null then builtins.fromJSON s else null;

  # Seconds, or null when the string is beyond parseNumber.
  seconds =
    v:
    if builtins.isString v then
      let
        m = builtins.match durationRe v;
        n = if m == null then null else parseNumber (lib.head m);
        unit = toString (lib.last m);
        scale = {
          "" = 1;
          s = 1;
          sec = 1;
          m = 60;
          min = 60;
          h = 3600;
        };
      in
      if n == null then
        null
      # Divided, not multiplied by 1e-3, so "10ms" is exactly the 0.01 the bound is written in.
      else if unit == "ms" then
        n / 1000.0
      else
        n * scale.${unit}
    else
      v;

  # { percent = x; } or { cores = x; }, or null when the string is beyond parseNumber.
  threshold =
    v:
    if builtins.isString v then
      let
        m = builtins.match thresholdRe v;
        n = if m == null then null else parseNumber (lib.head m);
      in
      if n == null then
        null
      else if lib.last m == "%" then
        { percent = n; }
      else
        { cores = n; }
    else
      { percent = v; };

  # "minecraft-server" -> "minecraft-server.service"; unit names with a cgroup-owning suffix and
  # cgroup paths ("/system.slice/foo.service") are kept as written.
  unitName =
    name:
    if
      lib.hasPrefix "/" name
      || builtins.match ".+[.](service|scope|slice|socket|mount|swap)" name != null
    then
      name
    else
      "${name}.service";

  # The cgroup the daemon looks at for a target when systemd does not say otherwise
  # (src/config/target.cpp): units in system.slice, "a-b.slice" nested as a.slice/a-b.slice.
  cgroupOf =
    target:
    if lib.hasPrefix "/" target then
      lib.concatStringsSep "/" (
        lib.filter (p: p != "" && p != ".") (lib.splitString "/" target)
      )
    else if lib.hasSuffix ".slice" target then
      let
        parts = lib.splitString "-" (lib.removeSuffix ".slice" target);
      in
      lib.concatMapStringsSep "/" (i: lib.concatStringsSep "-" (lib.take i parts) + ".slice") (
        lib.range 1 (lib.length parts)
      )
    else
      "system.slice/${target}";
  cgroupContains = outer: inner: outer == "" || inner == outer || lib.hasPrefix "${outer}/" inner;

  # Rendered file: unset (null) options are left out, so the daemon's own rule applies.
  renderedSettings = lib.filterAttrs (_: v: v != null) cfg.settings;
  exe = lib.getExe cfg.package;
  configArg = "--config ${cfg.configFile}";

  # Only the daemon's unit (and drop-ins, should it ever ship some) from the package. The
  # package also installs the .deb's xmrig.service for Debian, which has no xmrig package; on
  # NixOS it would become the base unit under nixpkgs' services.xmrig, turning that module's
  # definition into a drop-in with a second ExecStart=. Its Nice= drop-in is replaced by the
  # mkDefault below.
  daemonUnit = pkgs.runCommandLocal "xmrig-auto-pause-unit" { } ''
    units=${cfg.package}/lib/systemd/system
    if [ ! -f "$units/xmrig-auto-pause.service" ]; then
      echo "$units/xmrig-auto-pause.service is missing: the package must install its unit" >&2
      exit 1
    fi
    mkdir -p "$out/lib/systemd/system"
    for f in "$units"/xmrig-auto-pause.service*; do
      ln -s "$f" "$out/lib/systemd/system/"
    done
  '';

  # ---- Checks that need no daemon ------------------------------------------------------------
  # They mirror the daemon's validation where the answer does not depend on the machine (a
  # threshold in cores depends on its CPU count); ExecStartPre= runs --check-config for the rest.

  s = cfg.settings;
  opt = name: "services.xmrig-auto-pause.settings.${name}";
  show = builtins.toJSON;
  problem = message: {
    assertion = false;
    inherit message;
  };

  durationProblems = lib.concatMap (
    name:
    let
      v = s.${name};
      sec = if v == null then null else seconds v;
    in
    lib.optional (sec != null && sec < 0) (
      problem "${opt name} = ${show v}: a duration must not be negative."
    )
  ) [ "poll_interval" "grace_period" "grace_period_max" "stop_debounce" ];

  thresholdProblems =
    what: v:
    let
      t = threshold v;
      n = if t == null then 0 else t.percent or t.cores;
    in
    lib.optional (n < 0) (problem "${what} = ${show v}: a threshold must not be negative.")
    ++ lib.optional (t != null && t ? percent && n > 100) (
      problem "${what} = ${show v}: a percentage of the total CPU capacity is at most 100 (or use cores: \"1.5 cores\")."
    );

  pollSeconds = seconds s.poll_interval;
  graceSeconds = seconds s.grace_period;
  graceMaxSeconds = if s.grace_period_max == null then null else seconds s.grace_period_max;
  debounceSeconds = seconds s.stop_debounce;
  stop = threshold s.stop_threshold;
  resume = threshold s.resume_threshold;
  sameUnit = stop != null && resume != null && (stop ? percent) == (resume ? percent);
  stopValue = stop.percent or stop.cores;
  resumeValue = resume.percent or resume.cores;

  watchedNames = lib.attrNames s.watched;
  watchingMiner = lib.filter (w: cgroupContains (cgroupOf w) (cgroupOf s.miner)) watchedNames;

  assertions =
    durationProblems
    ++ thresholdProblems (opt "stop_threshold") s.stop_threshold
    ++ thresholdProblems (opt "resume_threshold") s.resume_threshold
    ++ lib.concatMap (w: thresholdProblems "${opt "watched"}.${show w}" s.watched.${w}) watchedNames
    ++ [
      {
        assertion = pollSeconds == null || pollSeconds < 0 || (pollSeconds >= 0.01 && pollSeconds <= 60);
        message = "${opt "poll_interval"} = ${show s.poll_interval}: must be between 10ms and 60s.";
      }
      {
        assertion = graceSeconds == null || graceMaxSeconds == null || graceMaxSeconds >= graceSeconds;
        message = "${opt "grace_period_max"} = ${show s.grace_period_max} is shorter than ${opt "grace_period"} = ${show s.grace_period}; it is the longest grace period after repeated freezes.";
      }
      {
        assertion = debounceSeconds == null || debounceSeconds <= 60;
        message = "${opt "stop_debounce"} = ${show s.stop_debounce}: must be at most 60s.";
      }
      {
        assertion = stop == null || stopValue != 0;
        message = "${opt "stop_threshold"} = ${show s.stop_threshold}: must be above 0, or the miner would always be frozen.";
      }
      {
        assertion = !sameUnit || resumeValue < stopValue;
        message = "${opt "resume_threshold"} = ${show s.resume_threshold} must be below ${opt "stop_threshold"} = ${show s.stop_threshold}: the gap between them keeps the miner from flapping.";
      }
      {
        assertion = watchingMiner == [ ];
        message = "services.xmrig-auto-pause: watched ${lib.concatMapStringsSep ", " show watchingMiner} ${
          if lib.length watchingMiner == 1 then "is or contains" else "are or contain"
        } the miner (${s.miner}): its own CPU use would keep it frozen. Watch the foreground services instead.";
      }
      {
        assertion = cfg.minerService == null || !lib.hasSuffix ".service" cfg.minerService;
        message = "services.xmrig-auto-pause.minerService = ${show cfg.minerService}: name the service as in systemd.services, without \".service\".";
      }
      {
        assertion = cfg.minerService == null || s.miner == "${cfg.minerService}.service";
        message = "${opt "miner"} = ${show s.miner} but services.xmrig-auto-pause.minerService = ${show cfg.minerService}: set minerService instead (it sets settings.miner, Nice= and the ordering), or minerService = null to manage the miner unit yourself.";
      }
    ];
in
{
  options.services.xmrig-auto-pause = {
    enable = lib.mkEnableOption "xmrig-auto-pause, which freezes the CPU miner's cgroup while foreground work needs the CPU";

    package = mkOption {
      type = types.package;
      default = pkgs.xmrig-auto-pause or (pkgs.callPackage ./package.nix { });
      defaultText = lib.literalMD "`pkgs.xmrig-auto-pause` (this flake's overlay), else built from this source tree";
      description = "The xmrig-auto-pause package. Its systemd unit is the one used.";
    };

    minerService = mkOption {
      type = types.nullOr types.str;
      default = "xmrig";
      example = "p2pool-miner";
      description = ''
        The miner's systemd service, as named in `systemd.services` (without `.service`). The
        default matches nixpkgs' `services.xmrig`. The module sets `settings.miner` to it, gives it
        `Nice=19` (with `mkDefault`: a miner at nice 0 counts as foreground load) and starts the
        daemon after it. Set it to `null` when `settings.miner` is a cgroup path or a unit this
        module should leave alone.
      '';
    };

    xmrigIdlePriority = mkOption {
      type = types.bool;
      default = true;
      description = ''
        With nixpkgs' `services.xmrig`, set its `settings.cpu.priority` to 0, xmrig's idle level
        (with `mkDefault`). xmrig otherwise sets its worker threads' priority itself (its
        benchmark mode was measured putting them at nice 0), which moves the miner's CPU time from
        `nice` to `user` in /proc/stat and defeats `Nice=19`. Turn this off if your xmrig settings
        use the boolean form `cpu = true;`, which cannot hold a priority.
      '';
    };

    watchedServices = mkOption {
      type = types.attrsOf thresholdType;
      default = { };
      example = {
        minecraft-server = "0.5 cores";
        jellyfin = 5;
      };
      description = ''
        Services whose own CPU use freezes the miner even when the whole machine is below
        `settings.stop_threshold`: service name (as in `systemd.services`, `.service` is added; any
        unit name with a suffix or a cgroup path is kept as written) to its threshold, a percentage
        of the total CPU capacity (`5` or `"5%"`) or cores (`"0.5 cores"`). Merged into
        `settings.watched`.
      '';
    };

    settings = mkOption {
      default = { };
      description = ''
        The daemon's JSON configuration (see xmrig-auto-pause.json(5)); options not listed here are
        passed through and rejected by the daemon if it does not know them. Durations are seconds
        (`0.2`) or strings (`"200ms"`, `"15s"`, `"2min"`); thresholds are percentages of the total
        CPU capacity (`15`, `"15%"`) or cores (`"1.5 cores"`). The defaults are the daemon's.
      '';
      type = types.submodule {
        freeformType = json.type;
        options = {
          poll_interval = mkOption {
            type = durationType;
            default = 0.2;
            description = "How often CPU use is sampled (10ms to 60s).";
          };
          grace_period = mkOption {
            type = durationType;
            default = 15;
            description = "How long the machine must stay quiet (at or below `resume_threshold`, every watched service below its threshold) before the miner is thawed.";
          };
          grace_period_max = mkOption {
            type = types.nullOr durationType;
            default = null;
            defaultText = lib.literalMD "unset: the daemon uses 120 s, or `grace_period` if that is longer";
            description = "The longest grace period: it doubles on freezes that follow two thaws quickly, up to this.";
          };
          stop_debounce = mkOption {
            type = durationType;
            default = 0.3;
            description = "How long the load must stay above a threshold before the miner is frozen (at most 60s).";
          };
          stop_threshold = mkOption {
            type = thresholdType;
            default = 15;
            description = "System-wide foreground CPU use above which the miner is frozen.";
          };
          resume_threshold = mkOption {
            type = thresholdType;
            default = 5;
            description = "System-wide foreground CPU use at or below which the machine counts as quiet (in one window or on a 3 s average); below `stop_threshold`.";
          };
          miner = mkOption {
            type = types.str;
            default =
              if cfg.minerService != null then
                "${cfg.minerService}.service"
              else
                throw "services.xmrig-auto-pause.settings.miner must be set when minerService is null.";
            defaultText = lib.literalExpression ''"''${config.services.xmrig-auto-pause.minerService}.service"'';
            example = "/system.slice/xmrig.service";
            description = "The miner: a unit name or a cgroup path. Prefer `minerService` for a service.";
          };
          watched = mkOption {
            type = types.attrsOf thresholdType;
            default = { };
            description = "Unit names or cgroup paths to thresholds; `watchedServices` adds to it.";
          };
          metrics_file = mkOption {
            type = types.nullOr (types.strMatching "/.+");
            default = null;
            example = "/var/lib/prometheus-node-exporter-text-files/xmrig-auto-pause.prom";
            description = ''
              A Prometheus text file the daemon rewrites on every tick, e.g. for node-exporter's
              textfile collector. Its directory is added to the unit's `ReadWritePaths=`: the
              unit's `ProtectSystem=strict` keeps everything else read-only.
            '';
          };
          log_level = mkOption {
            type = types.enum [
              "debug"
              "info"
              "warning"
              "error"
            ];
            default = "info";
            description = "Log level.";
          };
        };
      };
    };

    configFile = mkOption {
      type = types.path;
      readOnly = true;
      default = json.generate "xmrig-auto-pause.json" renderedSettings;
      defaultText = lib.literalMD "generated from `settings`";
      description = "The generated configuration file the service runs with (also /etc/xmrig-auto-pause/config.json).";
    };
  };

  config = lib.mkIf cfg.enable (
    lib.mkMerge [
      {
        inherit assertions;

        services.xmrig-auto-pause.settings.watched = lib.mapAttrs' (
          name: lib.nameValuePair (unitName name)
        ) cfg.watchedServices;

        # The CLI (`xmrig-auto-pause check-config`, `release`) finds the same file by default.
        environment.etc."xmrig-auto-pause/config.json".source = cfg.configFile;
        environment.systemPackages = [ cfg.package ];

        systemd.packages = [ daemonUnit ];
        systemd.services.xmrig-auto-pause = {
          wantedBy = [ "multi-user.target" ];
          after = lib.optional (cfg.minerService != null) "${cfg.minerService}.service";
          restartTriggers = [ cfg.configFile ];
          # The unit's own lines name the package's etc/ config; "" resets each list in the
          # drop-in NixOS writes (overrides.conf) before the line with the generated file.
          serviceConfig = {
            ExecStartPre = [
              ""
              "${exe} --check-config ${configArg}"
            ];
            ExecStart = [
              ""
              "${exe} ${configArg}"
            ];
            ExecStopPost = [
              ""
              "${exe} release ${configArg}"
            ];
          }
          # Added to the unit's /sys/fs/cgroup; "-": a missing directory does not fail the start.
          // lib.optionalAttrs (cfg.settings.metrics_file != null) {
            ReadWritePaths = [ "-${dirOf cfg.settings.metrics_file}" ];
          };
        };
      }

      (lib.mkIf (cfg.minerService != null) {
        # A nice-19 miner's CPU time lands in /proc/stat's `nice` column, which the daemon does not
        # count as foreground load (the .deb does the same with a drop-in).
        systemd.services.${cfg.minerService}.serviceConfig.Nice = lib.mkDefault 19;
      })

      (lib.mkIf (cfg.xmrigIdlePriority && cfg.minerService == "xmrig" && config.services.xmrig.enable) {
        services.xmrig.settings.cpu.priority = lib.mkDefault 0;
      })
    ]
  );
}
