#!/usr/bin/env python3
"""The Debian packages: `cpack -G DEB` builds ferry-agent and ferry-collector
from this build tree; their control data (dpkg-deb -I) declares the
architecture, the library dependencies, the maintainer scripts and the
conffiles; their contents (dpkg-deb -c) hold the binary, the unit, the
sysusers.d/tmpfiles.d snippets, the config and environment files and the
documentation. Then both are installed into a scratch root with
`dpkg --root` (maintainer scripts run chrootless, honouring DPKG_ROOT): the
files land, dpkg records the conffiles, the system users and state
directories are made, the shipped config passes --check-config, a changed
conffile survives a reinstall, remove keeps the conffiles and purge drops
them but never the state directory."""
import shutil

from ferry_harness import *

PKGS = {
    "agent": {
        "name": "ferry-agent",
        "files": ["./usr/bin/ferry-agent", "./usr/lib/systemd/system/ferry-agent.service",
                  "./usr/lib/sysusers.d/ferry-agent.conf", "./usr/lib/tmpfiles.d/ferry-agent.conf",
                  "./etc/ferry/agent.jsonc", "./etc/ferry/agent.env",
                  "./usr/share/doc/ferry-agent/operations.md", "./usr/share/doc/ferry-agent/integrations.md",
                  "./usr/share/ferry-agent/mappings/deepstream-full.jsonc",
                  "./usr/share/ferry-agent/mappings/deepstream-minimal.jsonc",
                  "./usr/share/ferry-agent/mappings/frigate.jsonc"],
        "depends": ["libuv1", "libcurl3-gnutls", "libsqlite3-0", "libcjson1", "libmicrohttpd12", "libzstd1",
                    "zlib1g", "libmosquitto1"],
    },
    "collector": {
        "name": "ferry-collector",
        "files": ["./usr/bin/ferry-collector", "./usr/lib/systemd/system/ferry-collector.service",
                  "./usr/lib/sysusers.d/ferry-collector.conf", "./usr/lib/tmpfiles.d/ferry-collector.conf",
                  "./etc/ferry/collector.jsonc", "./etc/ferry/collector.env",
                  "./usr/share/doc/ferry-collector/operations.md"],
        "depends": ["libuv1", "libsqlite3-0", "libcjson1", "libmicrohttpd12", "libnettle8", "zlib1g"],
    },
}


def sh(args, env=None, timeout=240, ok=True):
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    if ok and p.returncode != 0:
        raise TestFailure("%s: exit %d\n%s" % (" ".join(args), p.returncode, out[-3000:]))
    return p.returncode, out


def field(info, name):
    m = re.search(r"^ %s: (.*)$" % re.escape(name), info, re.M)
    return m.group(1).strip() if m else None


def build(h):
    for tool in ("cpack", "dpkg-deb", "dpkg"):
        check(shutil.which(tool), "%s is not installed" % tool)
    out_dir = h.mkdir("pkgs")
    sh(["cpack", "--config", os.path.join(bin_dir(), "CPackConfig.cmake"), "-G", "DEB", "-B", out_dir])
    debs = {}
    for comp, p in PKGS.items():
        found = [f for f in os.listdir(out_dir) if f.startswith(p["name"] + "_") and f.endswith(".deb")]
        check(len(found) == 1, "expected one %s .deb in %s, found %r" % (p["name"], out_dir, os.listdir(out_dir)))
        debs[comp] = os.path.join(out_dir, found[0])
    return debs


def check_control(debs):
    _, native = sh(["dpkg", "--print-architecture"])
    native = native.strip()
    for comp, deb in debs.items():
        p = PKGS[comp]
        _, info = sh(["dpkg-deb", "-I", deb])
        check_eq(field(info, "Package"), p["name"], "%s Package" % deb)
        check_eq(field(info, "Architecture"), native, "%s Architecture (native build)" % deb)
        depends = field(info, "Depends") or ""
        for d in p["depends"]:
            check(re.search(r"(^|, )%s( |,|$)" % re.escape(d), depends), "%s Depends lacks %s: %r" % (deb, d, depends))
        for script in ("postinst", "prerm", "postrm", "conffiles"):
            check(re.search(r"\b%s\b" % script, info), "%s has no %s" % (deb, script))
        _, conffiles = sh(["dpkg-deb", "--info", deb, "conffiles"])
        check_eq(sorted(conffiles.split()), sorted(["/etc/ferry/%s.jsonc" % comp, "/etc/ferry/%s.env" % comp]),
                 "%s conffiles" % deb)
        _, listing = sh(["dpkg-deb", "-c", deb])
        paths = {}
        for line in listing.splitlines():
            parts = line.split()
            if len(parts) >= 6:
                paths[parts[-1]] = parts[0]
        for f in p["files"]:
            check(f in paths, "%s does not contain %s" % (deb, f))
        check(paths.get("./etc/ferry/%s.env" % comp, "").startswith("-rw-------"),
              "%s: the env file (tokens) must be mode 0600: %r" % (deb, paths.get("./etc/ferry/%s.env" % comp)))
        check(paths.get("./usr/bin/" + p["name"], "").startswith("-rwxr-xr-x"), "%s binary mode" % deb)
        # every document a shipped document, unit file or binary points at ships too
        docdir = "./usr/share/doc/%s/" % p["name"]
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        wanted = set()
        texts = [open(os.path.join(src, "systemd", p["name"] + ".service")).read()]
        for f in paths:
            if f.startswith(docdir) and f.endswith(".md"):
                texts.append(open(os.path.join(src, "docs" if f[len(docdir):] != "README.md" else "",
                                               f[len(docdir):])).read())
        with open(binary(p["name"]), "rb") as bf:
            texts.append(bf.read().decode("latin-1"))
        for t in texts:
            wanted.update(re.findall(r"docs/([a-z_-]+\.(?:md|json))", t))
            wanted.update(re.findall(r"\]\(([a-z_-]+\.md)(?:#[^)]*)?\)", t))
        for w in sorted(wanted):
            check(docdir + w in paths, "%s references %s but does not ship it" % (deb, w))


def check_install(h, debs):
    root = h.mkdir("root")
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
    dpkg = ["dpkg", "--root=" + root, "--force-script-chrootless", "--force-depends"]
    if os.geteuid() != 0:
        dpkg.append("--force-not-root")
    sh(dpkg + ["-i", debs["agent"], debs["collector"]])

    for comp, p in PKGS.items():
        for f in p["files"]:
            check(os.path.exists(os.path.join(root, f[2:])), "installed root lacks %s" % f)
        with open(os.path.join(root, "var/lib/dpkg/info/%s.conffiles" % p["name"])) as f:
            check_eq(sorted(f.read().split()), sorted(["/etc/ferry/%s.jsonc" % comp, "/etc/ferry/%s.env" % comp]),
                     "dpkg's conffiles record for %s" % p["name"])
        check_eq(os.stat(os.path.join(root, "etc/ferry/%s.env" % comp)).st_mode & 0o777, 0o600,
                 "installed %s.env mode" % comp)
        _, status = sh(["dpkg", "--root=" + root, "-s", p["name"]])
        check("Status: install ok installed" in status, "%s not configured: %s" % (p["name"], status))
        # the unit starts the installed binary with the installed config
        with open(os.path.join(root, "usr/lib/systemd/system/%s.service" % p["name"])) as f:
            unit = f.read()
        m = re.search(r"^ExecStart=(\S+) --config (\S+)$", unit, re.M)
        check(m, "%s.service ExecStart: %r" % (p["name"], unit))
        check(os.access(os.path.join(root, m.group(1).lstrip("/")), os.X_OK), "ExecStart binary missing in root")
        check(os.path.exists(os.path.join(root, m.group(2).lstrip("/"))), "ExecStart config missing in root")
    if shutil.which("systemd-sysusers"):
        with open(os.path.join(root, "etc/passwd")) as f:
            users = [l.split(":")[0] for l in f]
        for u in ("ferry-agent", "ferry-collector"):
            check(u in users, "postinst did not create the system user %s: %r" % (u, users))
            check(os.path.isdir(os.path.join(root, "var/lib", u)), "postinst did not create /var/lib/%s" % u)
    else:
        log("systemd-sysusers absent: user creation not checked")

    # the shipped configuration files are valid as installed
    bin_agent = os.path.join(root, "usr/bin/ferry-agent")
    bin_coll = os.path.join(root, "usr/bin/ferry-collector")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    # --check-config also checks the state directories: point them into the scratch root
    for u in ("ferry-agent", "ferry-collector"):
        os.makedirs(os.path.join(root, "var/lib", u), exist_ok=True)
    rc, out = sh([bin_agent, "--config", os.path.join(root, "etc/ferry/agent.jsonc"), "--agent-id", "pkg-test",
                  "--journal", os.path.join(root, "var/lib/ferry-agent/journal.db"),
                  "--check-config"], env=dict(env, FERRY_AUTH_TOKEN="t0k3n"), ok=False)
    check_eq(rc, 0, "installed ferry-agent --check-config with the shipped config: %s" % out)
    rc, out = sh([bin_coll, "--config", os.path.join(root, "etc/ferry/collector.jsonc"),
                  "--db", "sqlite:" + os.path.join(root, "var/lib/ferry-collector/ferry.db"), "--check-config"],
                 env=dict(env, FERRY_AUTH_TOKEN="t0k3n", FERRY_READ_TOKEN="r3ad"), ok=False)
    check_eq(rc, 0, "installed ferry-collector --check-config with the shipped config: %s" % out)
    rc, out = sh([bin_agent, "--version"], ok=False)
    check(rc == 0 and "ferry-agent" in out, "installed ferry-agent --version: %s" % out)

    # a conffile the operator changed survives a reinstall (upgrade path)
    conf = os.path.join(root, "etc/ferry/agent.jsonc")
    with open(conf, "a") as f:
        f.write("// changed by the operator\n")
    sh(dpkg + ["--force-confold", "-i", debs["agent"]])
    with open(conf) as f:
        check("changed by the operator" in f.read(), "the changed conffile was replaced on reinstall")

    # remove keeps conffiles and state, purge drops conffiles but not the state
    state = os.path.join(root, "var/lib/ferry-agent")
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(state, "journal.db"), "w") as f:
        f.write("not really a journal")
    sh(dpkg + ["-r", "ferry-agent"])
    check(not os.path.exists(bin_agent), "binary still there after remove")
    check(os.path.exists(conf), "conffile gone after remove (only purge removes it)")
    sh(dpkg + ["-P", "ferry-agent"])
    check(not os.path.exists(conf), "conffile still there after purge")
    check(os.path.exists(os.path.join(state, "journal.db")), "purge removed the journal")
    check(os.path.exists(bin_coll), "removing the agent touched the collector")


def main(h):
    debs = build(h)
    check_control(debs)
    check_install(h, debs)


if __name__ == "__main__":
    run(main)
