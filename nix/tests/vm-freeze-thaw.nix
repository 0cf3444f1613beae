# Freezing and thawing: system load, the grace period, a watched service's light load, stopping
# the daemon while it holds the miner frozen. Also that the unit running is the package's, with
# its hardening.
{ module, package }:
{
  name = "xmrig-auto-pause-freeze-thaw";

  nodes.machine = import ./vm-common.nix { inherit module package; };

  testScript =
    builtins.readFile ./vm-lib.py
    + ''

      TOOLS = "${package.tools}/bin"
      GRACE = 3.0

      with subtest("the daemon runs the package's unit, hardened, with the generated config"):
          fragment = machine.succeed(f"readlink -f {prop(DAEMON, 'FragmentPath')}").strip()
          assert fragment == "${package}/lib/systemd/system/xmrig-auto-pause.service", fragment
          assert "overrides.conf" in prop(DAEMON, "DropInPaths")
          expected = {
              "Type": "notify",
              "StateDirectory": "xmrig-auto-pause",
              "Restart": "on-failure",
              "NoNewPrivileges": "yes",
              "ProtectSystem": "strict",
              "ProtectControlGroups": "no",
              "DynamicUser": "no",
              "CapabilityBoundingSet": "",
          }
          for name, value in expected.items():
              actual = prop(DAEMON, name)
              assert actual == value, f"{name}={actual}, expected {value}"
          assert prop(DAEMON, "WatchdogUSec") not in ("0", "infinity", ""), prop(DAEMON, "WatchdogUSec")
          assert "/sys/fs/cgroup" in prop(DAEMON, "ReadWritePaths")
          assert "--check-config" in prop(DAEMON, "ExecStartPre")
          assert " release " in prop(DAEMON, "ExecStopPost")
          machine.succeed("xmrig-auto-pause check-config")

      with subtest("the miner runs at nice 19 and its own CPU use never freezes it"):
          assert prop("xmrig", "Nice") == "19", prop("xmrig", "Nice")
          # Every thread, as the stand-in sets each worker's nice value itself, like xmrig.
          machine.wait_until_succeeds(
              "test \"$(ps -o ni= -L -p \"$(systemctl show -P MainPID xmrig)\" | tr -d ' ' | sort -u)\" = 19",
              timeout=30,
          )
          # Measurement window: 3 s is 30 polls and 10 debounce periods.
          time.sleep(3)
          assert_frozen(0)
          machine.succeed(f"test ! -e {CLAIM}")

      with subtest("system load freezes the miner; systemd still sees it running"):
          freezes = journal_count("freezing .*: system CPU")
          start_load(duty=60)
          wait_frozen(1, timeout=15)
          machine.succeed(f"test -s {CLAIM}")
          assert prop("xmrig", "FreezerState") == "running", prop("xmrig", "FreezerState")
          assert prop("xmrig", "ActiveState") == "active"
          journal_has("freezing .*: system CPU", freezes)

      with subtest("the miner is thawed once the machine has been quiet for the grace period"):
          thaws = journal_count("thawing .*: quiet for")
          stop_load()
          t0 = time.monotonic()
          wait_frozen(0, timeout=30)
          quiet = elapsed_since(t0)
          # The daemon thaws GRACE s after the last busy window; the poll of the test driver can only
          # make the measured time longer.
          assert quiet >= GRACE - 0.5, f"thawed {quiet:.1f} s after the load stopped (grace {GRACE} s)"
          machine.succeed(f"test ! -e {CLAIM}")
          journal_has("thawing .*: quiet for", thaws)
          settle()

      with subtest("a watched service's light load freezes the miner below the system threshold"):
          watched = journal_count("freezing .*: watched light-game\\.service")
          machine.succeed("systemctl start light-game")
          wait_frozen(1, timeout=15)
          # The reason names only the watched service: the machine as a whole stayed below 15 %.
          journal_has("freezing .*: watched light-game\\.service", watched)
          machine.succeed("systemctl stop light-game")
          wait_frozen(0, timeout=30)
          settle()

      with subtest("stopping the daemon while it holds the miner frozen thaws the miner"):
          start_load(duty=60)
          wait_frozen(1, timeout=15)
          machine.succeed(f"systemctl stop {DAEMON}")
          # `systemctl stop` returns after ExecStopPost=, so the miner must be thawed by now.
          wait_frozen(0, timeout=5)
          machine.succeed(f"test ! -e {CLAIM}")
          assert prop("xmrig", "ActiveState") == "active"
          stop_load()
          machine.succeed(f"systemctl start {DAEMON}")
          settle()
    '';
}
