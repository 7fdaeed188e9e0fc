#!/usr/bin/env bash
# Runs an fsrlab suite on a Slurm cluster: one job array with a shard of the suite per task, then
# one dependent job that merges the shards and draws the report (docs/cluster.md).
#
#   scripts/slurm/submit.sh SUITE OUT --tasks N [--size ci|paper] [--jobs J] [--only LIST]
#                           [--fsr PATH] [-- SBATCH_OPTIONS...]
#
#   SUITE      a suite file (experiments/suites/*.json)
#   OUT        output directory on a file system every node sees; it gets
#                shards/<i>/   task i's `fsr run --shard i/N` output
#                merged/       every job's result and summary.json (fsr merge)
#                report/       figures and report.md (fsr report)
#                merge.json    the merge document (complete, missing jobs)
#                slurm/        the Slurm logs (shard-<i>-<jobid>.log, merge-<jobid>.log)
#   --tasks N  number of array tasks (= shards); fixed for OUT once chosen
#   --size     suite size (default ci)
#   --jobs J   jobs side by side inside a task (default 1); each task's threads are its
#              SLURM_CPUS_PER_TASK (pass --cpus-per-task after --)
#   --only L   resubmit only these tasks (comma list or ranges, e.g. 2 or 1,3-4): the array is
#              --array=L, and each task still runs shard i of N; finished jobs are skipped
#   --fsr P    the fsr executable (default: build/apps/fsr of this checkout)
#   after --   options for sbatch, given to both the array and the merge job
#              (e.g. -- --partition=cpu --time=02:00:00 --cpus-per-task=4)
#
# Prints `array_job=<id>` and `merge_job=<id>` (one per line) and where the results will be.
# Bad arguments: one line on stderr, exit 2, nothing submitted.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

die() {
  echo "submit.sh: $*" >&2
  exit 2
}

suite="" out="" tasks="" size=ci jobs=1 only="" fsr="$root/build/apps/fsr"
sbatch_opts=()
positional=()
while (($#)); do
  case $1 in
    --tasks) tasks=${2:-}; shift 2 || die "--tasks needs a value" ;;
    --size) size=${2:-}; shift 2 || die "--size needs a value" ;;
    --jobs) jobs=${2:-}; shift 2 || die "--jobs needs a value" ;;
    --only) only=${2:-}; shift 2 || die "--only needs a value" ;;
    --fsr) fsr=${2:-}; shift 2 || die "--fsr needs a value" ;;
    --) shift; sbatch_opts=("$@"); break ;;
    -h | --help) sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "$1: unknown option (see --help)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
((${#positional[@]} == 2)) || die "SUITE and OUT are required (got ${#positional[@]} arguments; see --help)"
suite=${positional[0]} out=${positional[1]}

[[ -f $suite ]] || die "SUITE = $suite: not a file"
[[ $tasks =~ ^[1-9][0-9]*$ ]] || die "--tasks = ${tasks:-(none)}: must be an integer >= 1"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs = $jobs: must be an integer >= 1"
[[ $size == ci || $size == paper ]] || die "--size = $size: must be ci or paper"
[[ -x $fsr ]] || die "--fsr = $fsr: not an executable (build first: bash scripts/setup.sh)"
if [[ -n $only ]]; then
  [[ $only =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
    die "--only = $only: must be a list of task numbers and ranges, e.g. 2 or 1,3-4"
  IFS=, read -ra parts <<<"$only"
  for p in "${parts[@]}"; do
    for t in ${p/-/ }; do
      ((t >= 1 && t <= tasks)) || die "--only = $only: task $t is outside 1..$tasks"
    done
  done
fi
command -v sbatch >/dev/null || die "sbatch not found: this script needs a Slurm client"
[[ -e $out && ! -d $out ]] && die "OUT = $out: exists and is not a directory"

out=$(realpath -m "$out")
suite=$(realpath "$suite")
fsr=$(realpath "$fsr")
# A bad suite fails here, on the submitting node, not in N tasks later: `fsr run --dry-run`
# validates both sizes and writes nothing.
if ! err=$("$fsr" run "$suite" --out "$out/shards/1" --size "$size" --shard "1/$tasks" \
  --dry-run 2>&1 >/dev/null); then
  die "$(printf '%s' "$err" | tail -n 1 | sed 's/^fsr: //')"
fi

mkdir -p "$out/slurm"

# The number of shards is part of what OUT holds: with another N the shards would overlap.
if [[ -f $out/slurm/tasks ]]; then
  before=$(<"$out/slurm/tasks")
  [[ $before == "$tasks" ]] ||
    die "--tasks = $tasks: $out was split into $before tasks; use --tasks $before or a fresh OUT"
else
  echo "$tasks" >"$out/slurm/tasks"
fi
array=${only:-1-$tasks}
name=$(basename "$suite" .json)
array_job=$(sbatch --parsable --job-name="fsr-$name" --array="$array" \
  --output="$out/slurm/shard-%a-%A.log" "${sbatch_opts[@]}" \
  "$here/shard.sbatch" "$fsr" "$suite" "$out" "$size" "$tasks" "$jobs")
array_job=${array_job%%;*}
merge_job=$(sbatch --parsable --job-name="fsr-$name-merge" \
  --dependency="afterany:$array_job" --kill-on-invalid-dep=yes \
  --output="$out/slurm/merge-%j.log" "${sbatch_opts[@]}" \
  "$here/merge.sbatch" "$fsr" "$out" "$tasks")
merge_job=${merge_job%%;*}
echo "array_job=$array_job"
echo "merge_job=$merge_job"
echo "submit.sh: $name (size $size) as array $array_job (tasks $array of $tasks), merge job" \
  "$merge_job after it; results in $out/merged, figures in $out/report" >&2
