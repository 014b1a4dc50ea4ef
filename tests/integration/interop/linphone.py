"""linphonec (liblinphone 5.1) run headless for tests: own HOME and linphonerc, commands on a stdin pipe."""

import os
import shutil
import subprocess
import tempfile

from .common import free_port, free_ports

RC = """[sip]
sip_port={udp_port}
sip_tcp_port={tcp_port}
sip_tls_port=0
default_proxy={default_proxy}
register_only_when_network_is_up=0
media_encryption=none
session_expires_enabled=1
session_expires_value={session_expires}
session_expires_min_value={session_expires}
session_expires_refresher_value=0
[rtp]
bind_address=127.0.0.1
audio_rtp_port={rtp}
video_rtp_port=0
text_rtp_port=0
[net]
stun_server=
firewall_policy=0
[sound]
echocancellation=0
"""

# The proxy account (sipd) and its digest credentials, appended to RC when the client has a user.
ACCOUNT = """[proxy_0]
reg_proxy=<sip:127.0.0.1:{sipd_port};transport={transport}>
reg_route=<sip:127.0.0.1:{sipd_port};transport={transport};lr>
reg_identity="{user}" <sip:{user}@127.0.0.1:{sipd_port}>
reg_expires=600
reg_sendregister=1
publish=0
[auth_info_0]
username={user}
passwd={password}
realm={realm}
domain=127.0.0.1:{sipd_port}
"""


class Linphone:
    """One linphonec with one proxy account (sipd, over transport) and digest credentials for realm, or without
    an account (user None: it calls and answers on its own port, self.port). session_expires is its RFC 4028
    interval (and its Min-SE).

    Its stdout (the console's answers and state changes) is in out.log, the SIP trace in debug.log."""

    def __init__(self, name, user=None, password=None, sipd_port=None, transport="udp", realm="sipd", play=None,
                 session_expires=90):
        self.name = name
        self.user = user
        self.dir = tempfile.mkdtemp(prefix=f"interop-lp-{name}-")
        # Without this directory liblinphone cannot open its database and never creates a listening point.
        os.makedirs(os.path.join(self.dir, ".local", "share", "linphone"))
        self.port = free_port()
        rtp = free_ports(2, "udp")
        self.rc = os.path.join(self.dir, "linphonerc")
        with open(self.rc, "w") as f:
            f.write(RC.format(udp_port=self.port if transport == "udp" else 0,
                              tcp_port=self.port if transport == "tcp" else 0, rtp=rtp,
                              default_proxy=0 if user else -1, session_expires=session_expires))
            if user:
                f.write(ACCOUNT.format(sipd_port=sipd_port, transport=transport, user=user, password=password,
                                       realm=realm))
        self.out = open(os.path.join(self.dir, "out.log"), "wb")
        self.proc = subprocess.Popen(["linphonec", "-c", self.rc, "-d", "6", "-l", os.path.join(self.dir, "debug.log")],
                                     stdin=subprocess.PIPE, stdout=self.out, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, HOME=self.dir))
        # No sound card: audio comes from a WAV file (looped) and goes to files or nowhere.
        self.cmd("soundcard use files")
        if play:
            self.cmd(f"play {play}")

    def cmd(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def stdout(self):
        try:
            with open(os.path.join(self.dir, "out.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log(self):
        try:
            with open(os.path.join(self.dir, "debug.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        """quit (un-registers), then kill if it lingers."""
        try:
            if self.proc.poll() is None:
                self.cmd("quit")
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                # The first quit answered a password prompt (after a 403).
                self.cmd("quit")
                self.proc.wait(7)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)
