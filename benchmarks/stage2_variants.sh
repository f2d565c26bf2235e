#!/usr/bin/env bash
# One call on a lent GPU machine: stage 2 of some models on candidate stage-1 streams, one run per GPU at once, each
# evaluated there with the suite's main command (`ccl-bench run`, 32 test prompts, T2AV, the model's default scheme),
# so a candidate's sync is measured before a whole campaign is trained on it.
#
#   RUNS="ccl:runs/streams/wide7k:--clips 8192;none:runs/streams/wide7k:--clips 8192" STEPS=2000 CALL_S=560 \
#     bash benchmarks/stage2_variants.sh
#
#   carry: .wheelhouse (as benchmarks/device_session.sh; librosa needs `decorator`) and the streams folders the runs
#          name, inside the tree (e.g. under the ignored runs/)
#   env:   CCL_BENCH_COMMIT (required: the commit of the tree sent, for the provenance),
#          RUNS ("model:streams folder:more ccl-bench train arguments;..."; each trains `--init-from` the folder at
#          `--scale small --batch-size 128`), STEPS (default 2000), CALL_S (default 560), EVAL_S (the time kept for
#          the evaluation, default 150), EVAL_ARGS (more `ccl-bench run` arguments, e.g. for a smoke test), GPU_OFFSET (as stage1_variants.sh)
#   out:   $OUT/<model>.tar.NN (15 MiB parts, `cat <model>.tar.* | tar -x`; runs/<model>: the trained folder without
#          checkpoint.pt; eval/<model>: the result files of its evaluation, no clips), $OUT/summary.md (each run's
#          last loss and its table)
set -u
CALL_S=${CALL_S:-560}
STEPS=${STEPS:-2000}
W=/tmp/stage2 && mkdir -p $W/runs $W/eval
. benchmarks/device_call.sh
IFS=';' read -ra SPECS <<< "$RUNS"
fits ${#SPECS[@]}
EVAL_S=${EVAL_S:-150}  # one evaluation's time on the GPU, packing included
PIDS=() NAMES=()
i=$GPU0
for spec in "${SPECS[@]}"; do
  model=${spec%%:*} rest=${spec#*:}; streams=${rest%%:*} args=${rest#*:}
  # shellcheck disable=SC2086  # the run's arguments are words
  (CUDA_VISIBLE_DEVICES=$i timeout -s TERM -k 20 $(( $(left) - EVAL_S )) python3 -m ccl_bench train --model $model \
     --suite av-sync --scale small --batch-size 128 --steps $STEPS --init-from $streams --out $W/runs/$model --quiet \
     --device $DEVICE $args > $W/runs/$model.log 2>&1
   echo "train exit $?" >> $W/runs/$model.log
   CUDA_VISIBLE_DEVICES=$i timeout -s TERM -k 10 $(( $(left) - 20 )) python3 -m ccl_bench run --model $model \
     --suite av-sync --checkpoint $W/runs/$model --device $DEVICE --quiet --out $W/eval/$model ${EVAL_ARGS:-} > $W/eval/$model.log 2>&1
   echo "eval exit $?" >> $W/runs/$model.log) &
  PIDS+=($!) NAMES+=("$model") i=$(( i + 1 ))
done
wait "${PIDS[@]}"
for model in "${NAMES[@]}"; do
  mkdir -p $W/runs/$model; scrub < $W/runs/$model.log > $W/runs/$model/log.txt; scrub < $W/eval/$model.log > $W/runs/$model/eval-log.txt
  # shellcheck disable=SC2046  # the result files, not the media
  tar -cf - --exclude checkpoint.pt -C $W runs/$model \
    $(cd $W && find eval/$model -type f ! -name '*.mkv' ! -name '*.mp4' ! -name '*.wav' ! -name '*.flac' 2>/dev/null) \
    | split -b 15m -d - $OUT/$model.tar.  # a file comes back under 16 MiB
done
{ for model in "${NAMES[@]}"; do
    echo "## $model"; grep -h "exit" $W/runs/$model.log; tail -1 $W/runs/$model/metrics.jsonl; echo
    cat $W/eval/$model/*/*.md 2>/dev/null | head -40 || tail -5 $W/eval/$model.log; echo
  done
} > $OUT/summary.md
cat $OUT/summary.md
echo "call took $(( SECONDS - T0 )) s"
