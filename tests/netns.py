"""Several hosts on one machine: network namespaces joined to a hub by veth links a test can cut.

The network is a star. The hub namespace runs the services (the chain, the store); each host
namespace (one per agent) has one veth link to the hub, on its own /24, with the hub as its gateway;
the root namespace, where the test itself runs, has one more link to the hub. Services listen on
the hub's end of the root link, ``hub_address``, which every host reaches through its own link. So
cutting a host's link (its hub end down, as if the cable were pulled at the hub) cuts that host
alone: its packets are lost and its connections time out, they are not refused.

Names carry the test process's id, so two runs never share a namespace or an interface, and
``close`` deletes everything, after killing what still runs in the namespaces (a namespace with a
process in it outlives ``ip netns delete``, and so would its links).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO

IP = shutil.which("ip")
NET = "10.213"
"""The private /16 the links take their /24s from: host K's link is NET.K.0/24, the root link's is
NET.R.0/24 with R >= ROOT_SUBNETS.start; the hub's end is .1, the other end .2."""
ROOT_SUBNETS = range(100, 250)


class NetworkError(Exception):
    """An ``ip`` command failed; the message names the command and what ``ip`` said."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([IP or "ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise NetworkError(f"`ip {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done


def namespaces_unavailable() -> str | None:
    """Why network namespaces with veth links cannot be made here, or None if they can.

    Found by trying (a throwaway namespace with a veth pair in it), not by guessing from the uid:
    a root without CAP_NET_ADMIN (an unprivileged container) cannot, a non-root with it can.
    """
    if IP is None:
        return "iproute2's `ip` command is not installed, so no network namespaces can be made here"
    probe = f"llprobe{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return ("cannot create network namespaces here (needs CAP_NET_ADMIN and CAP_SYS_ADMIN, "
                f"e.g. root outside an unprivileged container): `ip netns add` said: {made.stderr.strip()}")
    try:
        pair = _ip("-n", probe, "link", "add", "llprobe0", "type", "veth", "peer", "name", "llprobe1",
                   check=False)
        if pair.returncode != 0:
            return ("cannot create veth pairs here (needs CAP_NET_ADMIN and the veth driver): "
                    f"`ip link add ... type veth` said: {pair.stderr.strip()}")
    finally:
        _ip("netns", "delete", probe, check=False)
    return None


@dataclass(frozen=True)
class Link:
    """A veth pair between the hub and a host: one interface at each end, one address each."""

    hub_end: str
    host_end: str
    hub_ip: str
    host_ip: str


class Network:
    """A hub namespace and one namespace per host, each host linked to the hub; the root too.

    Args:
        hosts: the hosts' names (e.g. research groups), each of which gets a namespace.
    """

    def __init__(self, hosts: Sequence[str]) -> None:
        if len(hosts) >= ROOT_SUBNETS.start:
            raise NetworkError(f"at most {ROOT_SUBNETS.start - 1} hosts, received: {len(hosts)}")
        tag = f"ll{os.getpid()}"
        self.hub = f"{tag}-hub"
        self.namespaces = {host: f"{tag}-{host}" for host in hosts}
        self.links = {host: Link(f"{tag}h{k}", f"{tag}a{k}", f"{NET}.{k}.1", f"{NET}.{k}.2")
                      for k, host in enumerate(hosts, start=1)}
        self._root_end = f"{tag}r"
        self._root_subnet = _unused_root_subnet()
        self.root_link = Link(f"{tag}h0", self._root_end, f"{NET}.{self._root_subnet}.1",
                              f"{NET}.{self._root_subnet}.2")
        self._made: list[str] = []
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def hub_address(self) -> str:
        """Where the hub's services listen: reachable from the root and from every linked host."""
        return self.root_link.hub_ip

    def build(self) -> Network:
        """Make the namespaces and links; on any failure, undo what was made and raise."""
        try:
            self._add_namespace(self.hub)
            _ip("link", "add", self._root_end, "type", "veth", "peer", "name", self.root_link.hub_end,
                "netns", self.hub)
            _ip("addr", "add", f"{self.root_link.host_ip}/24", "dev", self._root_end)
            _ip("link", "set", self._root_end, "up")
            self._bring_up(self.hub, self.root_link.hub_end, self.root_link.hub_ip)
            for host, namespace in self.namespaces.items():
                link = self.links[host]
                self._add_namespace(namespace)
                _ip("-n", self.hub, "link", "add", link.hub_end, "type", "veth", "peer", "name",
                    link.host_end, "netns", namespace)
                self._bring_up(self.hub, link.hub_end, link.hub_ip)
                self._bring_up(namespace, link.host_end, link.host_ip)
                _ip("-n", namespace, "route", "add", "default", "via", link.hub_ip)
        except BaseException:
            self.close()
            raise
        return self

    def exec_prefix(self, host: str | None = None) -> list[str]:
        """The command prefix that runs a command on ``host`` (None: on the hub)."""
        return [IP or "ip", "netns", "exec", self.hub if host is None else self.namespaces[host]]

    def start(self, host: str | None, command: Sequence[str], output: IO[bytes]) -> subprocess.Popen[bytes]:
        """Start ``command`` on ``host`` (None: the hub), printing to ``output``; ``close`` kills it."""
        process = subprocess.Popen([*self.exec_prefix(host), *command], stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._processes.append(process)
        return process

    def cut(self, host: str) -> None:
        """Pull ``host``'s cable at the hub: its packets are lost until ``restore``."""
        _ip("-n", self.hub, "link", "set", self.links[host].hub_end, "down")

    def restore(self, host: str) -> None:
        _ip("-n", self.hub, "link", "set", self.links[host].hub_end, "up")

    def close(self) -> None:
        """Kill what still runs in the namespaces, then delete them (their links go with them)."""
        for process in self._processes:
            if process.poll() is None:
                process.kill()
                process.wait(30)
        for namespace in self._made:
            # Anything started there by other means (a wrapped Devnet not stopped): ours to end.
            listed = _ip("netns", "pids", namespace, check=False).stdout.split()
            for pid in listed:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for namespace in reversed(self._made):
            _ip("netns", "delete", namespace, check=False)
        self._made.clear()
        _ip("link", "delete", self._root_end, check=False)  # gone with the hub already, unless a process held it

    def __enter__(self) -> Network:
        return self.build()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _add_namespace(self, namespace: str) -> None:
        _ip("netns", "add", namespace)
        self._made.append(namespace)
        _ip("-n", namespace, "link", "set", "lo", "up")

    @staticmethod
    def _bring_up(namespace: str, interface: str, address: str) -> None:
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", interface)
        _ip("-n", namespace, "link", "set", interface, "up")


def _unused_root_subnet() -> int:
    """A root-link /24 that no route of the root namespace uses (another run's, or the machine's)."""
    routes = _ip("-4", "route", "show", check=False).stdout
    start = os.getpid() % len(ROOT_SUBNETS)
    for offset in range(len(ROOT_SUBNETS)):
        third = ROOT_SUBNETS[(start + offset) % len(ROOT_SUBNETS)]
        if f"{NET}.{third}." not in routes:
            return third
    raise NetworkError(f"every root-link subnet {NET}.{ROOT_SUBNETS.start}-{ROOT_SUBNETS[-1]}.0/24 is in use")
