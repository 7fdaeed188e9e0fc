#!/usr/bin/env python3
"""ctest slurm_suite_test: an fsrlab suite on a real Slurm cluster, killed and resumed.

Usage: slurm_suite_test.py FSR SUITE

Starts a private single-node Slurm on this machine — munged, slurmctld and slurmd from Debian's
munge / slurmctld / slurmd packages, configured in a fresh temporary directory, on two free
localhost ports — and through scripts/slurm/submit.sh:
  1. submits SUITE (ci size) as a job array of 3 tasks and the dependent merge job;
  2. cancels task 2 with scancel once it has finished some of its jobs but not all (mid-run);
  3. checks the merge job ran anyway, exited non-zero, and named shard 2 as incomplete;
  4. resubmits task 2 (submit.sh --only 2): it must skip the jobs it had finished (their result
     files stay byte for byte) and the new merge job must complete and draw the report;
  5. runs the same suite locally (`fsr run`, no Slurm) and checks that the merged directory holds
     the same results, job for job, wall-clock fields aside (the rule of `fsr merge`).

Exit 77 (ctest's SKIP_RETURN_CODE) only when the cluster cannot be brought up here — a tool is
not installed, or a daemon does not start — with the reason and the daemon's last log lines.
Everything else that goes wrong is a failure (exit 1). The daemons, and any job still running,
are stopped by process id on every way out (they also get SIGTERM if this process dies, through
PR_SET_PDEATHSIG); FSR_KEEP_SLURM_TEST=1 keeps the temporary directory for inspection.
"""
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
TASKS = 3
KILLED = 2  # the task cancelled mid-run
DEADLINE = time.monotonic() + 540  # below ctest's TIMEOUT (600 s), so cleanup always runs
HERE = os.path.dirname(os.path.abspath(__file__))
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


class Skip(Exception):
    pass


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def remaining():
    return DEADLINE - time.monotonic()


def wait_for(what, pred, timeout, poll=0.2):
    """Polls pred() until it returns a true value (returned) or timeout / the test's deadline."""
    end = min(time.monotonic() + timeout, DEADLINE)
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            return None
        time.sleep(poll)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held open together, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return f"({path} not written)"


def _die_with_parent():
    """Runs in the child before exec: SIGTERM when this test process dies (even by SIGKILL)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


class Cluster:
    """munged + slurmctld + slurmd in the foreground, as children of this process."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []  # (name, Popen, log)
        self.conf = os.path.join(tmp, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        self.host = socket.gethostname().split(".")[0]

    def tool(self, name):
        path = shutil.which(name, path=SBIN)
        if not path:
            raise Skip(f"{name} is not installed (Debian packages munge, slurmctld, slurmd, "
                       f"slurm-client; `bash scripts/test.sh` installs them)")
        return path

    def start(self, name, argv, log):
        out = open(os.path.join(self.tmp, f"{name}.stdout"), "w")
        p = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                             preexec_fn=_die_with_parent)
        self.procs.append((name, p, log))
        return p

    def alive_or_skip(self, name, p, log, why):
        if p.poll() is not None:
            raise Skip(f"{name} exited with status {p.returncode} {why}:\n{tail(log)}"
                       f"{tail(os.path.join(self.tmp, name + '.stdout'))}")

    def up(self):
        tools = {t: self.tool(t) for t in ("munged", "munge", "unmunge", "slurmctld", "slurmd",
                                           "sbatch", "squeue", "scancel", "scontrol", "sinfo")}
        self.tools = tools
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()

        # munge: a private key and socket; -f because /tmp's sticky, world-writable parent is
        # something munged otherwise refuses.
        mdir = os.path.join(self.tmp, "munge")
        os.makedirs(mdir, mode=0o700)
        key = os.path.join(mdir, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        self.munge_socket = os.path.join(mdir, "socket")
        mlog = os.path.join(mdir, "munged.log")
        p = self.start("munged", [tools["munged"], "-F", "-f", f"--key-file={key}",
                                  f"--socket={self.munge_socket}",
                                  f"--pid-file={mdir}/munged.pid", f"--log-file={mlog}",
                                  f"--seed-file={mdir}/munged.seed"], mlog)
        if not wait_for("munge socket", lambda: os.path.exists(self.munge_socket) or p.poll() is not None, 15):
            raise Skip(f"munged did not create its socket in 15 s:\n{tail(mlog)}")
        self.alive_or_skip("munged", p, mlog, "at start")
        cred = subprocess.run([tools["munge"], "-S", self.munge_socket, "-n"], capture_output=True,
                              text=True)
        dec = subprocess.run([tools["unmunge"], "-S", self.munge_socket], input=cred.stdout,
                             capture_output=True, text=True)
        if cred.returncode or dec.returncode:
            raise Skip(f"munge cannot encode/decode a credential: {cred.stderr!r} {dec.stderr!r}")

        for d in ("state", "spool", "log"):
            os.makedirs(os.path.join(self.tmp, d))
        ctld_port, slurmd_port = free_ports(2)
        cpus = os.cpu_count() or 1
        conf = f"""# Written by scripts/slurm/slurm_suite_test.py: a private one-node cluster.
ClusterName=fsrtest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
CredType=cred/munge
StateSaveLocation={self.tmp}/state
SlurmdSpoolDir={self.tmp}/spool
SlurmctldPidFile={self.tmp}/slurmctld.pid
SlurmdPidFile={self.tmp}/slurmd.pid
SlurmctldLogFile={self.tmp}/log/slurmctld.log
SlurmdLogFile={self.tmp}/log/slurmd.log
PlugStackConfig={self.tmp}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
MinJobAge=600
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
"""
        with open(self.conf, "w") as f:
            f.write(conf)
        open(os.path.join(self.tmp, "plugstack.conf"), "w").close()

        clog = os.path.join(self.tmp, "log", "slurmctld.log")
        p = self.start("slurmctld", [tools["slurmctld"], "-D", "-i", "-f", self.conf], clog)

        def ctld_up():
            if p.poll() is not None:
                return True
            r = subprocess.run([tools["scontrol"], "ping"], env=self.env, capture_output=True,
                               text=True)
            return "UP" in r.stdout
        wait_for("slurmctld", ctld_up, 30, poll=0.5)
        self.alive_or_skip("slurmctld", p, clog, "at start")
        if not ctld_up():
            raise Skip(f"slurmctld did not answer `scontrol ping` in 30 s:\n{tail(clog)}")

        dlog = os.path.join(self.tmp, "log", "slurmd.log")
        p = self.start("slurmd", [tools["slurmd"], "-D", "-f", self.conf, "-N", self.host], dlog)

        def node_idle():
            if p.poll() is not None:
                return True
            r = subprocess.run([tools["sinfo"], "-h", "-N", "-o", "%T"], env=self.env,
                               capture_output=True, text=True)
            return r.stdout.strip() in ("idle", "mixed", "allocated")
        wait_for("slurmd", node_idle, 60, poll=0.5)
        self.alive_or_skip("slurmd", p, dlog, "at start")
        state = subprocess.run([tools["sinfo"], "-h", "-N", "-o", "%T %E"], env=self.env,
                               capture_output=True, text=True).stdout.strip()
        if not state.startswith(("idle", "mixed", "allocated")):
            raise Skip(f"node {self.host} did not become idle in 60 s (sinfo: {state!r}):\n"
                       f"{tail(dlog)}{tail(clog)}")
        print(f"slurm up: {self.host}, slurmctld :{ctld_port}, slurmd :{slurmd_port}, "
              f"{cpus} CPUs, state dir {self.tmp}", flush=True)

    def slurm(self, *argv):
        r = subprocess.run(list(argv), env=self.env, capture_output=True, text=True, timeout=60)
        return r

    def job(self, job_id):
        """scontrol's fields of one job (or array task 'A_i'), {} when unknown."""
        r = self.slurm(self.tools["scontrol"], "show", "job", "-o", str(job_id))
        if r.returncode:
            return {}
        return dict(m.group(1, 2) for m in re.finditer(r"(\w+)=(\S*)", r.stdout.splitlines()[0]))

    def wait_job_end(self, job_id, timeout):
        ended = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                 "PREEMPTED", "BOOT_FAIL", "DEADLINE")
        info = wait_for(f"job {job_id}",
                        lambda: (lambda j: j if j.get("JobState") in ended else None)(self.job(job_id)),
                        timeout, poll=0.5)
        check(info, f"job {job_id} did not end in {timeout:.0f} s: {self.job(job_id)}; "
                    f"squeue:\n{self.slurm(self.tools['squeue']).stdout}")
        return info

    def down(self):
        """Cancels every job of this private cluster, then stops the daemons, by process id."""
        if getattr(self, "tools", None) and any(n == "slurmctld" and p.poll() is None
                                                for n, p, _ in self.procs):
            try:
                self.slurm(self.tools["scancel"], "--full", "--user", str(os.getuid()))
                wait_for("queue empty", lambda: not self.slurm(
                    self.tools["squeue"], "-h").stdout.strip(), 20, poll=0.5)
            except (subprocess.TimeoutExpired, OSError):
                pass
        for name, p, _ in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        # Anything still carrying this cluster's SLURM_CONF (a slurmstepd or a job's process
        # that outlived its daemon) is ours: stop it by its id.
        marker = f"SLURM_CONF={self.conf}".encode()
        for env in glob.glob("/proc/[0-9]*/environ"):
            pid = int(env.split("/")[2])
            if pid == os.getpid():
                continue
            try:
                with open(env, "rb") as f:
                    if marker in f.read().split(b"\0"):
                        os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass


# --- comparing results ---------------------------------------------------------------------
def load(path):
    with open(path) as f:
        return json.load(f)


def results(out):
    """{job id: result.json document} of an fsr run / merge output directory."""
    docs = {}
    for p in glob.glob(os.path.join(out, "jobs", "*", "result.json")):
        docs[os.path.basename(os.path.dirname(p))] = load(p)
    return docs


def run(argv, env=None, timeout=None):
    r = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=timeout or max(5, remaining()))
    return r


def main(fsr, suite):
    tmp = tempfile.mkdtemp(prefix="fsr-slurm-", dir="/tmp")  # short: unix socket paths <= 107
    cluster = Cluster(tmp)
    try:
        cluster.up()
        out = os.path.join(tmp, "suite")
        submit = [os.path.join(HERE, "submit.sh"), suite, out, "--tasks", str(TASKS),
                  "--fsr", fsr, "--", "--cpus-per-task=1"]

        # 1. the array and its merge job
        t0 = time.monotonic()
        r = run(submit, env=cluster.env, timeout=60)
        check(r.returncode == 0, f"submit.sh failed ({r.returncode}): {r.stderr}")
        ids = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
        array_job, merge_job = ids["array_job"], ids["merge_job"]
        print(f"submitted array {array_job} ({TASKS} tasks), merge {merge_job}", flush=True)

        # 2. cancel task 2 mid-run: some of its jobs finished, not all
        plan_jobs = None
        shard_dir = os.path.join(out, "shards", str(KILLED))

        def mid_run():
            nonlocal plan_jobs
            if plan_jobs is None and os.path.isfile(os.path.join(shard_dir, "plan.json")):
                plan = load(os.path.join(shard_dir, "plan.json"))
                plan_jobs = [j["id"] for j in plan["jobs"] if j["index"] % TASKS == KILLED - 1]
            done = [i for i, d in results(shard_dir).items() if d.get("status") == "ok"]
            return plan_jobs is not None and 1 <= len(done) < len(plan_jobs)
        seen = wait_for("task 2 mid-run", mid_run, 120, poll=0.05)
        task = f"{array_job}_{KILLED}"
        check(seen, f"task {task} never was mid-run (its shard has {len(plan_jobs or [])} jobs; "
                    f"results: {sorted(results(shard_dir))}; job: {cluster.job(task)})")
        r = cluster.slurm(cluster.tools["scancel"], task)
        check(r.returncode == 0, f"scancel {task}: {r.stderr}")
        done_before = {i: open(os.path.join(shard_dir, "jobs", i, "result.json"), "rb").read()
                       for i, d in results(shard_dir).items() if d.get("status") == "ok"}
        info = cluster.wait_job_end(task, 60)
        check(info["JobState"] == "CANCELLED", f"task {task} ended {info['JobState']}, not CANCELLED")
        print(f"cancelled {task} after {len(done_before)} of {len(plan_jobs)} jobs", flush=True)

        # 3. the merge job runs anyway and reports shard 2 as incomplete
        info = cluster.wait_job_end(merge_job, 180)
        log = "".join(open(p).read() for p in glob.glob(os.path.join(out, "slurm", f"merge-{merge_job}.log")))
        check(info["JobState"] == "FAILED" and info.get("ExitCode", "").startswith("1:"),
              f"merge job {merge_job} after a cancelled shard: {info.get('JobState')} "
              f"{info.get('ExitCode')} (expected FAILED 1:0); log:\n{log}")
        merged = load(os.path.join(out, "merge.json"))
        check(not merged["complete"], "merge.json says complete with a shard cancelled")
        check(set(merged["missing"]) <= set(plan_jobs) and merged["missing"],
              f"missing jobs {merged['missing']} are not the cancelled shard's ({plan_jobs})")
        check(f"--only {KILLED}" in log, f"the merge log does not name the resubmission:\n{log}")

        # 4. resubmit task 2: finished jobs are skipped, the new merge completes
        r = run(submit[:5] + ["--only", str(KILLED)] + submit[5:], env=cluster.env, timeout=60)
        check(r.returncode == 0, f"submit.sh --only {KILLED} failed ({r.returncode}): {r.stderr}")
        ids = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
        info = cluster.wait_job_end(f"{ids['array_job']}_{KILLED}", 240)
        check(info["JobState"] == "COMPLETED",
              f"resubmitted task ended {info['JobState']} {info.get('ExitCode')}:\n"
              + tail(os.path.join(out, "slurm", f"shard-{KILLED}-{ids['array_job']}.log"), 30))
        info = cluster.wait_job_end(ids["merge_job"], 180)
        log = open(os.path.join(out, "slurm", f"merge-{ids['merge_job']}.log")).read()
        check(info["JobState"] == "COMPLETED", f"second merge job: {info['JobState']}:\n{log}")
        for i, raw in done_before.items():
            now = open(os.path.join(shard_dir, "jobs", i, "result.json"), "rb").read()
            check(now == raw, f"{i}: finished before the cancel, rewritten by the resubmission")
        merged = load(os.path.join(out, "merge.json"))
        check(merged["complete"] and not merged["conflicts"],
              f"merge after resubmission: complete {merged['complete']}, "
              f"missing {merged['missing']}, conflicts {merged['conflicts']}")
        check(os.path.isfile(os.path.join(out, "report", "report.md")), "no report/report.md")
        wall = time.monotonic() - t0
        print(f"slurm: suite complete after the resubmission ({wall:.0f} s from first submit)",
              flush=True)

        # 5. the same suite without Slurm
        local = os.path.join(tmp, "local")
        r = run([fsr, "run", suite, "--out", local, "--size", "ci"])
        check(r.returncode == 0, f"local fsr run failed ({r.returncode}): {r.stderr[-2000:]}")
        a, b = results(os.path.join(out, "merged")), results(local)
        check(sorted(a) == sorted(b), f"job ids differ: slurm {sorted(set(a) - set(b))}, "
                                      f"local {sorted(set(b) - set(a))}")
        for i in sorted(a):
            check(a[i]["status"] == b[i]["status"] == "ok", f"{i}: {a[i]['status']} vs {b[i]['status']}")
        # Result for result, wall-clock fields aside: `fsr merge` lists as conflicts the jobs whose
        # finished results differ between its directories.
        r = run([fsr, "merge", os.path.join(out, "merged"), local, "--json"])
        check(r.returncode == 0, f"fsr merge of the Slurm and the local run: {r.stderr}")
        both = json.loads(r.stdout)
        check(both["complete"] and not both["conflicts"],
              f"the Slurm results differ from the local run's: conflicts {both['conflicts']}")
        # ... and that comparison sees a difference: one result changed in a copy is a conflict.
        tampered = os.path.join(tmp, "tampered")
        shutil.copytree(local, tampered)
        victim = os.path.join(tampered, "jobs", sorted(b)[0], "result.json")
        doc = load(victim)
        doc["result"]["errors"]["alpha_max_relative"] += 1e-12
        with open(victim, "w") as f:
            json.dump(doc, f)
        r = run([fsr, "merge", os.path.join(out, "merged"), tampered, "--json"])
        check(json.loads(r.stdout)["conflicts"] == [sorted(b)[0]],
              f"fsr merge did not see a changed result: {r.stdout[:300]}")
        sa, sb = (load(os.path.join(d, "summary.json")) for d in (os.path.join(out, "merged"), local))
        rows = lambda s: {j["id"]: j.get("values") for j in s["jobs"]}  # noqa: E731
        check(rows(sa) == rows(sb), "summary rows differ between the Slurm and the local run")
        print(f"PASS: {len(a)} jobs over {TASKS} Slurm tasks (task {KILLED} cancelled after "
              f"{len(done_before)} of {len(plan_jobs)} jobs and resubmitted) equal the local run")
        return 0
    except Skip as e:
        print(f"SKIPPED: a private Slurm cluster cannot run here: {e}")
        return SKIP
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        cluster.down()
        if os.environ.get("FSR_KEEP_SLURM_TEST"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])))
