# Restarts and kills while the miner is frozen: the daemon restarted, SIGKILLed with and without
# the ExecStopPost= safety net, and the miner restarted under it.
{ module, package }:
{
  name = "xmrig-auto-pause-recovery";

  nodes.machine = import ./vm-common.nix { inherit module package; };

  testScript =
    builtins.readFile ./vm-lib.py
    + ''

      TOOLS = "${package.tools}/bin"

      # After a kill the unit restarts in RestartSec=5s; leave room for it.
      RESTART_TIMEOUT = 30


      def wait_restarted(restarts_before: int) -> None:
          machine.wait_until_succeeds(
              f"test $(systemctl show -P NRestarts {DAEMON}) -gt {restarts_before}"
              f" && systemctl is-active --quiet {DAEMON}",
              timeout=RESTART_TIMEOUT,
          )


      with subtest("restarting the daemon while frozen: thawed on the way out, frozen again by the new one"):
          start_load(duty=60)
          wait_frozen(1, timeout=15)
          pid = prop(DAEMON, "MainPID")
          exits = journal_count("exiting: thawed")
          machine.succeed(f"systemctl restart {DAEMON}")
          assert prop(DAEMON, "MainPID") != pid
          journal_has("exiting: thawed", exits)
          # The load is still there: the new instance freezes the miner with a claim of its own.
          wait_frozen(1, timeout=15)
          machine.succeed(f"test -s {CLAIM}")
          stop_load()
          wait_frozen(0, timeout=30)
          settle()

      with subtest("SIGKILL while frozen: ExecStopPost= thaws, the unit restarts, the miner is not left frozen"):
          start_load(duty=60)
          wait_frozen(1, timeout=15)
          # Quiet from now on, so nothing freezes the miner again: only `release` can thaw it before
          # the grace period (>= 3 s) ends, and the journal says which one did.
          releases = journal_count("release: thawed")
          stop_load()
          machine.succeed(f"systemctl kill --signal=KILL {DAEMON}")
          wait_frozen(0, timeout=10)
          journal_has("release: thawed", releases)
          wait_restarted(0)
          machine.succeed(f"test ! -e {CLAIM}")
          assert prop("xmrig", "ActiveState") == "active"
          settle()

      with subtest("SIGKILL while frozen without the safety net: the restarted daemon recovers its claim and thaws once idle"):
          # A drop-in sorted after NixOS's overrides.conf empties ExecStopPost=, as if `release`
          # had failed: the miner stays frozen across the restart with only the claim to go by.
          machine.succeed(
              "mkdir -p /run/systemd/system/xmrig-auto-pause.service.d",
              "printf '[Service]\\nExecStopPost=\\n' > /run/systemd/system/xmrig-auto-pause.service.d/zz-no-release.conf",
              "systemctl daemon-reload",
          )
          assert prop(DAEMON, "ExecStopPost") == "", prop(DAEMON, "ExecStopPost")
          start_load(duty=60)
          wait_frozen(1, timeout=15)
          identity = claim_identity()
          recoveries = journal_count("found our claim from a previous run")
          machine.succeed(f"systemctl kill --signal=KILL {DAEMON}")
          wait_restarted(0)
          journal_has("found our claim from a previous run", recoveries)
          assert_frozen(1)
          assert claim_identity() == identity, f"{claim_identity()} != {identity}"
          stop_load()
          wait_frozen(0, timeout=30)
          machine.succeed(f"test ! -e {CLAIM}")
          machine.succeed(
              "rm /run/systemd/system/xmrig-auto-pause.service.d/zz-no-release.conf",
              "systemctl daemon-reload",
          )
          assert " release " in prop(DAEMON, "ExecStopPost")
          settle()

      with subtest("restarting the miner while frozen takes seconds; the new instance is not under the old claim"):
          start_load(duty=60)
          wait_frozen(1, timeout=15)
          old = claim_identity()
          old_pid = prop("xmrig", "MainPID")
          changes = journal_count("thawing .*: the miner is changing state")
          t0 = time.monotonic()
          # Without the daemon thawing the stopping miner, SIGTERM would wait for TimeoutStopSec=.
          machine.succeed("timeout 60 systemctl restart xmrig")
          took = elapsed_since(t0)
          assert took < 10, f"restarting the frozen miner took {took:.1f} s"
          assert prop("xmrig", "MainPID") != old_pid
          journal_has("thawing .*: the miner is changing state", changes)
          # The load is still on, so the new instance may be frozen again, but only under a claim
          # of its own (a new cgroup, a new identity).
          deadline = time.monotonic() + 15
          while claim_identity() == old:
              assert time.monotonic() < deadline, f"the claim still names the old miner instance {old}"
              time.sleep(0.5)
          stop_load()
          wait_frozen(0, timeout=30)
          machine.succeed(f"test ! -e {CLAIM}")
          assert prop("xmrig", "ActiveState") == "active"
          settle()
    '';
}
