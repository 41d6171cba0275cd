#!/usr/bin/env python3
"""The shipped configuration files and the service-facing command line:
config/agent.jsonc and config/collector.jsonc are exactly what --print-config
generates from the option tables (so a new option without its entry in the
file fails here), name every option --help lists, and pass --check-config as
they are; --check-config exits 2 naming the key for a bad value in a file;
--version names the version, git revision, build type and libraries."""
from ferry_harness import *

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config")


def run_cmd(args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    e.update(env or {})
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=20)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def main(h):
    for prog, fname, env in (("ferry-agent", "agent.jsonc", {"FERRY_AUTH_TOKEN": "x", "FERRY_AGENT_ID": "cfg-test"}),
                             ("ferry-collector", "collector.jsonc",
                              {"FERRY_AUTH_TOKEN": "x", "FERRY_READ_TOKEN": "y"})):
        path = os.path.join(CONFIG_DIR, fname)
        with open(path) as f:
            shipped = f.read()
        rc, generated, err = run_cmd([binary(prog), "--print-config"])
        check_eq(rc, 0, "%s --print-config exit" % prog)
        check(shipped == generated,
              "config/%s differs from `%s --print-config` (regenerate it: %s --print-config > config/%s)"
              % (fname, prog, prog, fname))
        rc, helptext, _ = run_cmd([binary(prog), "--help"])
        # command-line actions are no configuration: --map-test / --map-topic (agent)
        flags = set(re.findall(r"^  --([a-z0-9-]+)", helptext, re.M)) - {"config", "check-config", "print-config",
                                                                          "version", "help", "map-test",
                                                                          "map-topic"}
        check(len(flags) > 10, "%s --help lists too few options: %r" % (prog, flags))
        for flag in flags:
            check('// "%s":' % flag.replace("-", "_") in shipped, "config/%s lacks option %s" % (fname, flag))
        rc, out, err = run_cmd([binary(prog), "--config", path, "--check-config"] +
                               (["--journal", h.path("j.db")] if prog == "ferry-agent" else
                                ["--db", "sqlite:" + h.path("c.db")]), env)
        check_eq(rc, 0, "%s --check-config with the shipped file: %s" % (prog, err))
        # a value the operator uncommented and got wrong: exit 2, one line naming the key
        bad = h.path("bad-" + fname)
        with open(bad, "w") as f:
            f.write(shipped.replace('// "max_connections": 256,', '"max_connections": "many",'))
        rc, out, err = run_cmd([binary(prog), "--config", bad, "--check-config"], env)
        check_eq(rc, 2, "%s --check-config with a bad value" % prog)
        check("max_connections" in err and len(err.strip().splitlines()) == 1,
              "%s: the error does not name the key in one line: %r" % (prog, err))
        check("line" in err, "%s: the error does not give the file line: %r" % (prog, err))
        # --version: version, git revision, build type, library versions
        rc, out, _ = run_cmd([binary(prog), "--version"])
        check_eq(rc, 0, "%s --version" % prog)
        check(re.search(r"^%s \d+\.\d+\.\d+ \(git [0-9a-f]+|unknown, \w+ build\)" % prog, out),
              "%s --version first line: %r" % (prog, out))
        for lib in ("libuv", "libcurl", "sqlite", "cJSON", "libmicrohttpd", "zlib", "zstd"):
            check(lib in out, "%s --version does not name %s: %r" % (prog, lib, out))


if __name__ == "__main__":
    run(main)
