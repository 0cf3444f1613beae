# Shared by the NixOS VM tests: the start of each testScript, which then sets TOOLS to the
# stand-in tools' bin directory. The conditions are those of tests/vm/guest-lib.sh's scenarios:
# the miner cgroup's cgroup.events (frozen 1/0), the claim file, systemd's view of the units;
# every wait is bounded.
import json
import shlex
import time

MINER_CG = "/sys/fs/cgroup/system.slice/xmrig.service"
EVENTS = MINER_CG + "/cgroup.events"
CLAIM = "/var/lib/xmrig-auto-pause/claim.json"
DAEMON = "xmrig-auto-pause.service"


def wait_frozen(state: int, timeout: int = 30) -> None:
    machine.wait_until_succeeds(f"grep -qx 'frozen {state}' {EVENTS}", timeout=timeout)


def assert_frozen(state: int) -> None:
    machine.succeed(f"grep -qx 'frozen {state}' {EVENTS}")


def start_load(unit: str = "fg-load", duty: int = 60) -> None:
    """Foreground load at nice 0: `duty` % of one CPU, i.e. duty/2 % of the machine."""
    machine.succeed(
        f"systemd-run --unit={unit} --collect --property=Nice=0 -- "
        f"{TOOLS}/xap-cpu-load --threads 1 --duty {duty} --period-ms 10"
    )


def stop_load(unit: str = "fg-load") -> None:
    machine.succeed(f"systemctl stop {unit}")


def prop(unit: str, name: str) -> str:
    return machine.succeed(f"systemctl show -P {name} {unit}").strip()


def claim_identity() -> str:
    """The miner identity in the claim, or "" when there is none."""
    status, out = machine.execute(f"cat {CLAIM}")
    return json.loads(out)["identity"] if status == 0 else ""


def journal_count(pattern: str) -> int:
    """How many of the daemon's log lines (ExecStopPost='s included) match `pattern`."""
    out = machine.succeed(f"journalctl -b -u {DAEMON} -o cat | grep -E -c -- {shlex.quote(pattern)} || true")
    return int(out.strip() or "0")


def journal_has(pattern: str, before: int = 0, timeout: int = 30) -> None:
    """Waits for a log line matching `pattern` beyond the `before` there were."""
    machine.wait_until_succeeds(
        f"test $(journalctl -b -u {DAEMON} -o cat | grep -E -c -- {shlex.quote(pattern)}) -gt {before}",
        timeout=timeout,
    )


def settle() -> None:
    """Idle, thawed, no claim, daemon active, restart counters cleared."""
    wait_frozen(0)
    machine.wait_until_succeeds(f"test ! -e {CLAIM}", timeout=30)
    machine.succeed(f"systemctl reset-failed {DAEMON}")
    machine.wait_for_unit(DAEMON)


def elapsed_since(t0: float) -> float:
    return time.monotonic() - t0


machine.wait_for_unit("xmrig.service")
machine.wait_for_unit(DAEMON)
