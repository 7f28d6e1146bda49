#!/usr/bin/env bash
# CI stage: the slurm executor on a real Slurm. Starts a one-node cluster on this machine (Debian's slurm-wlm and
# munge, 2 CPU slots; see slurm-cluster.sh), runs `cover experiment frame-reversal --scale smoke --executor slurm`
# through it and checks that every run became a job, that COVER's job started only after image pre-training finished,
# that a job cancelled mid-run with scancel and submitted again resumes, and that the tables equal the local
# executor's. Says in one line why it was skipped where Slurm cannot start (and exits 0 then).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/slurm-cluster.sh

work="$(mktemp -d /tmp/cover-ci-slurm.XXXXXX)"
state="$work/slurm"
if ! start_slurm "$state"; then
  echo "slurm stage skipped: $SLURM_SKIP_REASON"
  exit 0
fi
passed=0
trap 'stop_slurm "$state"; if [ "$passed" = 1 ]; then rm -rf "$work" 2>/dev/null || echo "slurm: could not remove $work entirely"; else echo "logs kept in $work"; fi' EXIT
echo "one-node Slurm up: $(sinfo -h -o '%P %D node(s) %c CPUs %T')"

cover() { node bin/cover.js "$@"; }
fail() { echo "slurm stage FAILED: $*"; exit 1; }
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
exp=(frame-reversal --scale smoke)

stamp "local executor (reference)"
cover experiment "${exp[@]}" --quiet --runs "$work/local-runs" --out "$work/local-out" >/dev/null

stamp "slurm executor, --no-wait"
cover experiment "${exp[@]}" --quiet --executor slurm --no-wait --runs "$work/slurm-runs" --out "$work/slurm-out" >"$work/jobs.tsv"
cat "$work/jobs.tsv"
[ "$(wc -l <"$work/jobs.tsv")" = 2 ] || fail "expected 2 jobs (image pre-training, COVER), got: $(cat "$work/jobs.tsv")"
pre_job=$(awk '$2 == "image-pretrain" {print $1}' "$work/jobs.tsv"); pre_dir=$(awk '$2 == "image-pretrain" {print $3}' "$work/jobs.tsv")
cover_job=$(awk '$2 == "cover" {print $1}' "$work/jobs.tsv"); cover_dir=$(awk '$2 == "cover" {print $3}' "$work/jobs.tsv")
[ -n "$pre_job" ] && [ -n "$cover_job" ] || fail "jobs not named as expected: $(cat "$work/jobs.tsv")"
squeue -h -j "$cover_job" -o '%i %T %r %E' | grep -q "afterok:$pre_job" || fail "COVER's job does not depend on image pre-training's ($(squeue -h -j "$cover_job" -o '%E'))"

# Stop COVER's job mid-run as a preemption does: freeze it once metrics.jsonl shows a step (so the run cannot finish
# meanwhile), scancel --signal=TERM (the run checkpoints after the micro-batch in progress and exits with 143), let
# it go on. (A plain scancel here SIGKILLs the job about a second after SIGTERM, too soon to checkpoint: the run then
# resumes from its last periodic checkpoint, which at smoke scale may be none.)
stamp "waiting for COVER's first steps to scancel job $cover_job"
for _ in $(seq 1 3000); do
  [ -s "$cover_dir/metrics.jsonl" ] && break
  [ -f "$cover_dir/results.json" ] && fail "COVER finished before it could be cancelled"
  sleep 0.05
done
[ -s "$cover_dir/metrics.jsonl" ] || fail "COVER's job made no step in 150 s ($(squeue -h -j "$cover_job" -o '%T %r'))"
scancel --signal=STOP --full "$cover_job"
steps_at_cancel=$(wc -l <"$cover_dir/metrics.jsonl")
scancel --signal=TERM --full "$cover_job"
scancel --signal=CONT --full "$cover_job"
for _ in $(seq 1 120); do squeue -h -j "$cover_job" 2>/dev/null | grep -q . || break; sleep 0.5; done
[ -f "$cover_dir/results.json" ] && fail "COVER finished although its job was cancelled at step $steps_at_cancel"
ls "$cover_dir"/checkpoint*.safetensors >/dev/null 2>&1 || fail "no checkpoint after the cancel: $(tail -3 "$cover_dir/slurm-$cover_job.out")"
stamp "job $cover_job stopped with $steps_at_cancel step(s) in metrics.jsonl; log: $(tail -1 "$cover_dir/slurm-$cover_job.out")"
cover runs status --runs "$work/slurm-runs"

stamp "slurm executor again: resubmits only what is missing, waits, builds the tables"
cover experiment "${exp[@]}" --executor slurm --poll 1 --runs "$work/slurm-runs" --out "$work/slurm-out" 2>"$work/rerun.log" >/dev/null || { cat "$work/rerun.log"; fail "the rerun failed"; }
grep -E '^(submitted|already queued|\[)' "$work/rerun.log"
grep -q "^submitted: job [0-9]* image-pretrain" "$work/rerun.log" && fail "image pre-training (finished) was submitted again"
grep -q "^submitted: job [0-9]* cover" "$work/rerun.log" || fail "COVER was not resubmitted"

stamp "checks"
n_runs=$(ls -d "$work/slurm-runs/runs"/*/ | wc -l)
n_jobs=$(ls "$work/slurm-runs/runs"/*/slurm-job.json | wc -l)
[ "$n_runs" = 2 ] && [ "$n_jobs" = 2 ] || fail "expected 2 runs each with its job record, got $n_runs runs, $n_jobs records"
pre_end=$(stat -c %.3Y "$pre_dir/results.json")
cover_start=$(grep -ho 'starts on .* at [0-9.]*' "$cover_dir"/slurm-*.out | awk '{print $NF}' | sort -n | head -1)
[ -n "$cover_start" ] && awk -v s="$cover_start" -v e="$pre_end" 'BEGIN { exit !(s >= e) }' || fail "COVER's job started at $cover_start, before image pre-training finished at $pre_end"
echo "order: image pre-training finished at $pre_end, COVER's first job started at $cover_start"
grep -q '"step"' <(tail -1 "$cover_dir/metrics.jsonl") || fail "COVER's metrics are empty"
for f in tables/frame-reversal.csv tables/frame-reversal-claims.csv tables/frame-reversal-per-seed.csv; do
  cmp "$work/local-out/$f" "$work/slurm-out/$f" || fail "$f differs between the local and the slurm executor"
done
node -e '
const [a, b] = process.argv.slice(1).map((d) => JSON.parse(require("fs").readFileSync(d + "/results.json", "utf8")).datasets);
if (JSON.stringify(a) !== JSON.stringify(b)) { console.error("COVER results differ:", JSON.stringify(a), JSON.stringify(b)); process.exit(1); }
' "$(ls -d "$work/local-runs/runs"/cover-*)" "$cover_dir" || fail "COVER's results.json differs from the local executor's"
node -e '
const steps = (d) => require("fs").readFileSync(d + "/metrics.jsonl", "utf8").trim().split("\n").map((l) => { const { seconds, ...r } = JSON.parse(l); return JSON.stringify(r); });
const [a, b] = process.argv.slice(1).map(steps);
if (a.join("\n") !== b.join("\n")) { console.error("COVER metrics differ:\n" + a.join("\n") + "\nvs\n" + b.join("\n")); process.exit(1); }
console.log(`COVER: ${a.length} steps, every loss equal to the local executor run after the cancel and resume`);
' "$(ls -d "$work/local-runs/runs"/cover-*)" "$cover_dir" || fail "COVER's metrics.jsonl differs from the local executor's"
cat "$work/slurm-out/tables/frame-reversal.md"
cover runs status --runs "$work/slurm-runs"
passed=1
stamp "slurm stage passed: 2 runs as 3 jobs (COVER's job cancelled mid-run and resubmitted), tables equal the local executor's"
