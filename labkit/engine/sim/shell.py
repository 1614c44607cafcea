"""``docker exec`` in a simulated lab app container: a model of the few busybox commands the
course uses, with the output the real image prints.

The real image is ``FROM scratch`` with ``/bin/busybox`` and links for ``labkit.app.APPLETS``;
any other bare command is not on PATH there (the engine answers exit code 126, 127 on 28), while
``["/bin/busybox", X]`` and ``["sh", "-c", ...]`` reach every applet, and so it is here.
Modelled: hostname, ip addr / ip route, ifconfig, route, netstat, ps, ls, cat of /etc/hosts,
/etc/hostname, /etc/resolv.conf and /proc/sys/net/ipv4/*, nslookup, ping -c N, wget -qO- URL,
echo, true, false (in ``labkit.engine.sim.applets``); this module is PID 1, ``sh -c`` and the
way a command reaches its applet. Names resolve through Docker's embedded DNS on user-defined
networks only, as on a real engine.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from labkit.app import APPLETS
from labkit.engine.sim.applets import DNS_SERVER, HANDLERS
from labkit.engine.sim.state import ContainerRec, World
from labkit.generation import Generation
from labkit.models import ExecResult

__all__ = [
    "World",
    "run_command",
    "pid1_exit_code",
    "pid1_result",
    "missing_program",
    "PATH_PROGRAMS",
    "DNS_SERVER",
]

# What the lab app image has on PATH: /bin/busybox and its applet links (see labkit.app).
PATH_PROGRAMS = ("busybox", *APPLETS)

_MODELLED = (
    "hostname",
    "ip",
    "ifconfig",
    "route",
    "netstat",
    "ps",
    "ls",
    "cat",
    "nslookup",
    "ping",
    "wget",
    "echo",
    "true",
    "false",
    "sh",
)
# The static busybox applets on the engine's host (Debian busybox-static 1.35): real commands
# the model does not cover say so instead of pretending they do not exist.
_APPLETS = set(
    """[ [[ acpid adjtimex ar arch arp arping ascii ash awk base64 basename bc blkdiscard blockdev
    brctl bunzip2 busybox bzcat bzip2 cal cat chgrp chmod chown chroot chvt clear cmp cp cpio crc32
    crond crontab cttyhack cut date dc dd deallocvt depmod devmem df diff dirname dmesg
    dnsdomainname dos2unix dpkg dpkg-deb du dumpkmap dumpleases echo ed egrep env expand expr
    factor fallocate false fatattr fdisk fgrep find findfs fold free freeramdisk fsfreeze fstrim
    ftpget ftpput getopt getty grep groups gunzip gzip halt head hexdump hostid hostname httpd
    hwclock i2cdetect i2cdump i2cget i2cset i2ctransfer id ifconfig ifdown ifup init insmod ionice
    ip ipcalc ipneigh kill killall klogd last less link linux32 linux64 linuxrc ln loadfont
    loadkmap logger login logname logread losetup ls lsmod lsscsi lzcat lzma lzop md5sum mdev
    microcom mim mkdir mkdosfs mke2fs mkfifo mknod mkpasswd mkswap mktemp modinfo modprobe more
    mount mt mv nameif nc netstat nl nologin nproc nsenter nslookup nuke od openvt partprobe passwd
    paste patch pidof ping ping6 pivot_root poweroff printf ps pwd rdate readlink realpath reboot
    renice reset resume rev rm rmdir rmmod route rpm rpm2cpio run-init run-parts sed seq
    setkeycodes setpriv setsid sh sha1sum sha256sum sha3sum sha512sum shred shuf sleep sort
    ssl_client start-stop-daemon stat strings stty su sulogin svc svok swapoff swapon switch_root
    sync sysctl syslogd tac tail tar taskset tc tee telnet telnetd test tftp time timeout top touch
    tr traceroute traceroute6 true truncate ts tty tunctl ubirename udhcpc udhcpd uevent umount
    uname uncompress unexpand uniq unix2dos unlink unlzma unshare unxz unzip uptime usleep
    uudecode uuencode vconfig vi w watch watchdog wc wget which who whoami xargs xxd xz xzcat yes
    zcat""".split()
)


def missing_program(argv: Sequence[str]) -> str | None:
    """``argv[0]`` when the lab image has no such program (the engine cannot exec it)."""
    program = argv[0]
    name = program.rsplit("/", 1)[-1]
    if name not in PATH_PROGRAMS or (program.startswith("/") and program != f"/bin/{name}"):
        return program
    return None


# Applets that stay in the foreground as PID 1, and the flag that makes them do so (None: any
# arguments). Every other command runs to its end, and the container exits with its code.
_FOREGROUND = {"httpd": "-f", "sleep": None, "nc": "-l"}


def pid1_exit_code(rec: ContainerRec, world: World) -> int | None:
    """What ``rec``'s command does as PID 1 right after start: None while it keeps running
    (the app, ``sleep``, ``ping`` without ``-c``, ``nc -l``), else the code it exits with at
    once (127: no such program, as docker-init reports it)."""
    result = pid1_result(rec, world)
    return None if result is None else result.exit_code


def pid1_result(rec: ContainerRec, world: World) -> ExecResult | None:
    """``pid1_exit_code`` with what the command printed (``docker logs`` shows it)."""
    argv = list(rec.cmd)
    if missing_program(argv):
        program = argv[0].rsplit("/", 1)[-1]
        return ExecResult(
            127, f"[FATAL tini (7)] exec {program} failed: No such file or directory\n"
        )
    words = argv[1:] if argv[0].rsplit("/", 1)[-1] == "busybox" else argv
    words = [words[0].rsplit("/", 1)[-1], *words[1:]] if words else words
    if words and words[0] in _FOREGROUND:
        flag = _FOREGROUND[words[0]]
        if len(words) > 1 and (flag is None or any(w.startswith(flag) for w in words[1:])):
            return None
    if words and words[0] == "ping" and "-c" not in words:
        return None
    return run_command(rec, argv, world)


def run_command(rec: ContainerRec, argv: Sequence[str], world: World) -> ExecResult:
    """Run ``argv`` as ``docker exec`` would in ``rec``'s container."""
    program = argv[0]
    name = program.rsplit("/", 1)[-1]
    if missing_program(argv):
        return _exec_failed(program, world.generation)
    if name == "sh":
        return _sh(rec, list(argv[1:]), world)
    if name != "busybox":
        return _applet(rec, [name, *argv[1:]], world, shell=False)
    if len(argv) == 1:
        return ExecResult(0, "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n")
    return _applet(rec, list(argv[1:]), world, shell=False)


def _exec_failed(program: str, generation: Generation) -> ExecResult:
    """``docker exec`` of a program the image lacks: runc's words, with 20.10's ": unknown"
    and exit code 126; 28 says it without the suffix and exits 127 (both measured)."""
    why = (
        f"stat {program}: no such file or directory"
        if "/" in program
        else "executable file not found in $PATH"
    )
    suffix = "" if generation is Generation.V28 else ": unknown"
    code = generation.missing_program_exit_code
    return ExecResult(
        code,
        "OCI runtime exec failed: exec failed: unable to start container process: exec: "
        f'"{program}": {why}{suffix}\r\n',
    )


def _sh(rec: ContainerRec, args: list[str], world: World) -> ExecResult:
    if len(args) < 2 or args[0] != "-c":
        return ExecResult(0, "")  # an interactive shell without a terminal reads EOF and exits
    script = _expand(args[1], {"HOSTNAME": rec.hostname, "HOME": "/root", "PATH": _PATH})
    if any(token in script for token in (">", "<", "`", "$(")):
        return _not_modelled_in_sh()
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return ExecResult(2, "sh: syntax error: unterminated quoted string\n")
    # Commands joined by ; && || run left to right; && and || look at the last exit code.
    if tokens and tokens[-1] in ("&&", "||"):
        return ExecResult(2, "sh: syntax error: unexpected end of file\n")
    output, code, joiner, words = [], 0, ";", []
    for n, token in enumerate([*tokens, ";"]):
        if token not in (";", "&&", "||", ";;"):
            if set(token) <= set(";&|"):  # a pipe or a background job
                return _not_modelled_in_sh()
            words.append(token)
            continue
        if token == ";;" or (not words and n < len(tokens)):  # outside `case`; no command
            return ExecResult(2, f'sh: syntax error: unexpected "{token}"\n')
        if words and (joiner == ";" or (joiner == "&&") == (code == 0)):
            result = _applet(rec, words, world, shell=True)
            output.append(result.output)
            code = result.exit_code
        joiner, words = token, []
    return ExecResult(code, "".join(output))


_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_VARIABLE = re.compile(r"\$(?:(\w+)|\{(\w+)\})")


def _expand(script: str, env: Mapping[str, str]) -> str:
    """$NAME and ${NAME} outside single quotes, as sh expands them (unknown names: empty)."""
    pieces = script.split("'")
    for n in range(0, len(pieces), 2):  # even pieces are outside single quotes
        pieces[n] = _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), pieces[n])
    return "'".join(pieces)


def _not_modelled_in_sh() -> ExecResult:
    return ExecResult(
        2,
        "sh: pipes, redirections and substitutions are not modelled by labkit's simulated engine\n",
    )


def _applet(rec: ContainerRec, words: list[str], world: World, *, shell: bool) -> ExecResult:
    applet, args = words[0], words[1:]
    if applet == "busybox" and args:
        return _applet(rec, args, world, shell=shell)
    if applet not in _APPLETS:
        return ExecResult(
            127, f"sh: {applet}: not found\n" if shell else f"{applet}: applet not found\n"
        )
    if applet in ("sh", "ash"):
        return _sh(rec, args, world)
    handler = HANDLERS.get(applet)
    if handler is None:
        return ExecResult(
            127,
            f"{applet}: not modelled by labkit's simulated engine (it models: "
            f"{', '.join(_MODELLED)})\n",
        )
    return handler(rec, args, world)
