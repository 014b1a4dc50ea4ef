"""TLS helpers for integration tests: a throw-away CA and certificates made with openssl, TLS clients and servers.

    pki = Pki(tmpdir)                       # CA in pki.ca
    cert, key = pki.issue("srv", ["DNS:sipd.test", "IP:127.0.0.1"])
    sock = tls_connect(port, pki.ca)        # verified TLS client socket
"""

import os
import socket
import ssl
import subprocess


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


class Pki:
    """A CA (P-256) in directory d that issues leaf certificates with the subjectAltNames asked for."""

    def __init__(self, d, name="sipd test CA"):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.ca = os.path.join(d, "ca.pem")
        self.ca_key = os.path.join(d, "ca.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                 "-subj", f"/CN={name}", "-keyout", self.ca_key, "-out", self.ca, cwd=d)

    def issue(self, name, sans, cn=None, days=2):
        """Signs a new key for sans (["DNS:x", "IP:1.2.3.4"]); returns (cert path, key path)."""
        key, csr, crt, ext = (os.path.join(self.dir, f"{name}.{x}") for x in ("key", "csr", "pem", "ext"))
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join(sans) + "\nextendedKeyUsage=serverAuth,clientAuth\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
                 f"/CN={cn or name}", "-keyout", key, "-out", csr, cwd=self.dir)
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial",
                 "-days", str(days), "-out", crt, "-extfile", ext, cwd=self.dir)
        return crt, key


def client_context(ca, server_name=True):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = bool(server_name)
    return ctx


def tls_connect(port, ca, host="127.0.0.1", server_name="127.0.0.1", timeout=5.0, ctx=None):
    """A TLS client socket to host:port, its certificate checked against server_name."""
    ctx = ctx or client_context(ca)
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_name)
    except Exception:
        raw.close()
        raise


def peer_cn(sock):
    """The CN of the certificate the server presented."""
    for rdn in sock.getpeercert().get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    return None


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx
