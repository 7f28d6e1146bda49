#!/usr/bin/env bash
# CI stage: the slurm executor on a real Slurm. Starts a one-node cluster on this machine (Debian's slurm-wlm and
# munge, 2 CPU slots; see slurm-cluster.sh), runs `cover experiment frame-reversal --scale smoke --executor slurm`
# through it and checks that every run became an array task, that COVER's task started only after image pre-training
# finished, that a task cancelled mid-run with scancel and submitted again resumes, and that the tables equal the
# local executor's; then `cover ablate ... --pretrain --executor slurm`: image pre-training as one array, both settings
# as one array of two tasks waiting for it, the same table as the local executor's. Says in one line why it was
# skipped where Slurm cannot start (and exits 0 then).
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
# same_run LOCAL_DIR SLURM_DIR LABEL WHEN: the run's results.json and every step's metrics (but its time) are equal
same_run() {
  node -e '
const fs = require("fs");
const [a, b, label, when] = process.argv.slice(1);
const results = (d) => JSON.stringify(JSON.parse(fs.readFileSync(d + "/results.json", "utf8")).datasets);
if (results(a) !== results(b)) { console.error(`${label} results differ:`, results(a), results(b)); process.exit(1); }
const steps = (d) => fs.readFileSync(d + "/metrics.jsonl", "utf8").trim().split("\n").map((l) => { const { seconds, ...r } = JSON.parse(l); return JSON.stringify(r); });
if (steps(a).join("\n") !== steps(b).join("\n")) { console.error(`${label} metrics differ:\n` + steps(a).join("\n") + "\nvs\n" + steps(b).join("\n")); process.exit(1); }
console.log(`${label}: ${steps(a).length} steps, results and every loss equal to the local executor run${when ? " " + when : ""}`);
' "$@" || fail "$3: results.json or metrics.jsonl differs from the local executor's"
}
exp=(frame-reversal --scale smoke)

stamp "local executor (reference)"
cover experiment "${exp[@]}" --quiet --runs "$work/local-runs" --out "$work/local-out" >/dev/null

stamp "slurm executor, --no-wait"
cover experiment "${exp[@]}" --quiet --executor slurm --no-wait --runs "$work/slurm-runs" --out "$work/slurm-out" >"$work/jobs.tsv"
cat "$work/jobs.tsv"
[ "$(wc -l <"$work/jobs.tsv")" = 2 ] || fail "expected 2 jobs (image pre-training, COVER), got: $(cat "$work/jobs.tsv")"
[ "$(cut -f1 "$work/jobs.tsv" | cut -d_ -f1 | sort -u | wc -l)" = 2 ] || fail "expected 2 arrays (COVER waits for image pre-training), got: $(cat "$work/jobs.tsv")"
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
grep -q "^submitted: job [0-9_]* image-pretrain" "$work/rerun.log" && fail "image pre-training (finished) was submitted again"
grep -q "^submitted: job [0-9_]* cover" "$work/rerun.log" || fail "COVER was not resubmitted"

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
same_run "$(ls -d "$work/local-runs/runs"/cover-*)" "$cover_dir" "COVER" "after the cancel and resume"
cat "$work/slurm-out/tables/frame-reversal.md"
cover runs status --runs "$work/slurm-runs"

# An ablation with --pretrain: image pre-training (one array of one task), then both settings as one array of two
# tasks, each waiting for the pre-training's task (afterok:<array>_0). Its own runs folders, so that the pre-training
# is not the experiment's (finished above) and the dependency is real.
abl=(standard-motion --vary optim.schedule.baseLr=0.001,0.003 --seeds 0 --scale smoke --pretrain)
stamp "ablation, local executor (reference)"
cover ablate "${abl[@]}" --quiet --runs "$work/local-abl-runs" --out "$work/local-abl-out" >/dev/null
stamp "ablation, slurm executor, --no-wait"
cover ablate "${abl[@]}" --quiet --executor slurm --no-wait --runs "$work/slurm-abl-runs" --out "$work/slurm-abl-out" >"$work/abl-jobs.tsv"
cat "$work/abl-jobs.tsv"
[ "$(wc -l <"$work/abl-jobs.tsv")" = 3 ] || fail "expected 3 runs (image pre-training, two settings), got: $(cat "$work/abl-jobs.tsv")"
abl_pre=$(awk '$2 == "image-pretrain" {print $1}' "$work/abl-jobs.tsv"); abl_pre_dir=$(awk '$2 == "image-pretrain" {print $3}' "$work/abl-jobs.tsv")
abl_tasks=$(awk '$2 != "image-pretrain" {print $1}' "$work/abl-jobs.tsv")
[ "$(cut -f1 "$work/abl-jobs.tsv" | cut -d_ -f1 | sort -u | wc -l)" = 2 ] || fail "expected 2 arrays, got: $(cat "$work/abl-jobs.tsv")"
[ "$(echo "$abl_tasks" | cut -d_ -f1 | sort -u | wc -l)" = 1 ] || fail "the two settings are not one array: $abl_tasks"
[ "$(echo "$abl_tasks" | cut -d_ -f2 | sort | tr '\n' ' ')" = "0 1 " ] || fail "the settings' array has not tasks 0 and 1: $abl_tasks"
for t in $abl_tasks; do
  squeue -h -r -j "$t" -o '%i %E' | grep -q "afterok:$abl_pre" || fail "task $t does not wait for image pre-training's task $abl_pre ($(squeue -h -r -j "$t" -o '%E'))"
done
squeue -h -r -o '%i %T %r %E' | sed 's/^/queue: /'
stamp "ablation, slurm executor: waits for the queued tasks and builds the tables"
cover ablate "${abl[@]}" --executor slurm --poll 1 --runs "$work/slurm-abl-runs" --out "$work/slurm-abl-out" 2>"$work/abl-rerun.log" >/dev/null || { cat "$work/abl-rerun.log"; fail "the ablation with the slurm executor failed"; }
grep -E '(^submitted|^already queued|^\[| job arrays?: )' "$work/abl-rerun.log" | sed 's/\r//g'
grep -q "^submitted:" "$work/abl-rerun.log" && fail "the rerun submitted a second job for a queued run"
pre_end=$(stat -c %.3Y "$abl_pre_dir/results.json")
for t in $abl_tasks; do
  dir=$(awk -v t="$t" '$1 == t {print $3}' "$work/abl-jobs.tsv")
  start=$(grep -ho 'starts on .* at [0-9.]*' "$dir/slurm-$t.out" | awk '{print $NF}' | head -1)
  [ -n "$start" ] && awk -v s="$start" -v e="$pre_end" 'BEGIN { exit !(s >= e) }' || fail "task $t started at $start, before image pre-training finished at $pre_end"
  echo "order: image pre-training (task $abl_pre) finished at $pre_end, task $t started at $start ($(basename "$dir"))"
done
for dir in "$work/slurm-abl-runs/runs"/*/; do
  same_run "$work/local-abl-runs/runs/$(basename "$dir")" "$dir" "$(basename "$dir")" ""
done
for f in tables/ablation-standard-motion-summary.csv tables/ablation-standard-motion-per-seed.csv; do
  cmp "$work/local-abl-out/$f" "$work/slurm-abl-out/$f" || fail "$f differs between the local and the slurm executor"
done
echo "local executor:"; cat "$work/local-abl-out/tables/ablation-standard-motion-summary.md"
echo "slurm executor:"; cat "$work/slurm-abl-out/tables/ablation-standard-motion-summary.md"
cover runs status --runs "$work/slurm-abl-runs"
passed=1
stamp "slurm stage passed: frame-reversal's 2 runs as 3 array jobs (COVER's task cancelled mid-run and resubmitted), the ablation's 3 runs as 2 arrays (2 tasks after 1); tables equal the local executor's"
