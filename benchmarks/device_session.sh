#!/usr/bin/env bash
# One call on a lent GPU machine that trains campaign runs, evaluates them there and packs everything that
# must come back, within CALL_S seconds (the lender's per-call limit is 600 s, and a machine idle for 30 s is
# taken back with all it holds: nothing may be left for a later call).
#
#   carry: .wheelhouse (PyAV, soundfile + cffi + pycparser, librosa + its pure-Python deps, jsonschema + deps,
#          platformdirs; `pip download --python-version 3.12 --only-binary=:all: --no-deps ...`; decord is left
#          out: the tree plus what is carried must stay under 64 MiB, and the PyAV reader decodes FFV1 the same)
#   env:   MODELS (comma list), SEEDS (default 0,1,2), STEPS (default 2000), SNAPSHOT_EVERY (0: none),
#          PER_GPU (runs sharing a GPU, default 1), ORDER (seed or model: train_small's --order), FINALS ("model:guidance[:task+task],...": evaluations of
#          the finished runs through $CLAIMS/seed<k>/<model>, T2AV unless tasks are named, e.g. ccl-rope-only:ucg:t2av+a2v+v2a;
#          a model may be named once per guidance), PACK (models whose weights come
#          back, default MODELS), SNAPSHOT_MODELS (whose snapshots are evaluated, default MODELS),
#          CAMPAIGN (a committed campaign folder to continue, e.g. checkpoints/av-sync/campaign-v3, whose plan names
#          its stage-1 runs; default: stage 2 from the shipped checkpoints/av-sync/streams), CLIPS (training clips,
#          default 2048), MATRIX (where the FINALS' results go, default results/claims/matrix), CLAIMS (the claims
#          layout the FINALS' checkpoints are named by, default checkpoints/av-sync/claims), CALL_S (default 570),
#          TRAIN_S (training's budget, default CALL_S - 150 from its start),
#          MIN_RUN_S (start no run with less of TRAIN_S left, default 250: on an H200 a model's first run on a machine
#          took 230-246 s with its compile, later seeds 96-129 s; a run stopped by the budget is lost),
#          MEASURES (models whose claims-1-2 measures, benchmarks/claims_measures.py, are taken after training; each
#          also in FINALS), STREAMS (their stage-1 runs, default $CAMPAIGN/runs/streams-video,...-audio),
#          CCL_BENCH_COMMIT (the commit the tree is), JOBS (evaluations at once, default one per 4 CPU cores),
#          THREADS (each evaluation's, default 4), TRAIN_GPUS and EVAL_GPUS (default: all GPUs for both; a GPU
#          kept for evaluations leaves the training runs their GPUs alone)
#   out:   $OUT/conv.tar.NN (15 MiB parts of an xz-compressed tar, about 0.73 of the raw size: plan, summary,
#          configs, logs, the PACK runs' weights, every weight's sha256; not the snapshots), $OUT/matrix.tar.xz (the evaluations' result files), logs; failed.log holds
#          the end of every failed evaluation's log
#
#   At most 8 files and 64 MiB come back from a call: four runs' weights at the 256-wide video stream (17 MB each,
#   12.7 MB compressed) and the evaluations' results (JSON, xz-compressed) per call.
#
#   Join at home: python benchmarks/join_session.py <folder of what came back> (campaign runs, claims links, summary
#   rows, matrix results); claim 6's convergence runs: cat conv.tar.* | tar -xJ -C checkpoints/av-sync/convergence
set -u
T0=$SECONDS
CALL_S=${CALL_S:-570}
SEEDS=${SEEDS:-0,1,2}
STEPS=${STEPS:-2000}
NGPU=$(nvidia-smi -L | wc -l)
JOBS=${JOBS:-$(( $(nproc) / 4 ))}
PACK=${PACK:-$MODELS}
SNAPSHOT_MODELS=${SNAPSHOT_MODELS:-$MODELS}
FINALS=${FINALS:-}
left() { echo $(( CALL_S - (SECONDS - T0) )); }
echo "$NGPU GPU(s), $(nproc) CPU cores, $JOBS evaluations at once"; nvidia-smi -L

export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONFAULTHANDLER=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .wheelhouse/*.whl
export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/bin:$PATH
mkdir -p /tmp/bin && printf '#!/bin/sh\nexec python3 -m ccl_bench "$@"\n' > /tmp/bin/ccl-bench && chmod +x /tmp/bin/ccl-bench
python3 -c "import av, soundfile, librosa, jsonschema, platformdirs, cv2" || exit 3

CONV=/tmp/conv MATRIX=${MATRIX:-results/claims/matrix} CLAIMS=${CLAIMS:-checkpoints/av-sync/claims}
if [ -n "${CAMPAIGN:-}" ]; then  # a committed campaign: its plan's stage-1 runs are joined into the streams by train_small
  RESUME="--resume-from $CAMPAIGN"
else  # the shipped streams
  RESUME="" && mkdir -p $CONV && { [ -d $CONV/streams ] || cp -rL checkpoints/av-sync/streams $CONV/streams; }
fi
ln -sfn $CONV checkpoints/av-sync/convergence   # checkpoints are named by repository paths in every result file
# FINALS' runs as the claims plan names them, claims/seed<k>/<model>, linked straight to this call's runs (this
# machine's copy of the tree lacks the committed campaign/runs, which stay home over the transfer limit, and a
# model with committed seeds there, such as joint, may have left an empty folder that a link would land inside)
for f in ${FINALS//,/ }; do m=${f%%:*}
  for k in ${SEEDS//,/ }; do mkdir -p $CLAIMS/seed$k
    ln -sfn $CONV/runs/$m/seed-$k $CLAIMS/seed$k/$m; done
done
touch /tmp/t0
GPUS=$(seq -s, 0 $(( NGPU - 1 )))
nohup python3 benchmarks/train_small.py --out $CONV $RESUME --clips ${CLIPS:-2048} --only models --models "$MODELS" --seeds "$SEEDS" --order ${ORDER:-model} \
  --steps $STEPS --batch-size 128 --gpus ${TRAIN_GPUS:-$GPUS} --per-gpu ${PER_GPU:-1} \
  --budget-s ${TRAIN_S:-$(( $(left) - 150 ))} --reserve-s 40 --min-run-s ${MIN_RUN_S:-250} \
  --state-mib 1 --snapshot-every "${SNAPSHOT_EVERY:-0}" --sheets none > /tmp/train.log 2>&1 &
TP=$!
queue() {  # $1: seconds after which no evaluation starts; the finished runs' FINALS lines and every snapshot so far
  : > /tmp/finals.sh
  for f in ${FINALS//,/ }; do IFS=: read -r m g t <<< "$f"; t=${t:-t2av}
    for k in ${SEEDS//,/ }; do
      # a finished run of this machine: a run joined from an earlier call keeps only its weights' sha256 here
      [ -f $CONV/runs/$m/seed-$k/ema.safetensors ] && grep -qs "\"steps_done\": $STEPS" $CONV/runs/$m/seed-$k/config.json && echo "ccl-bench run --model $m --suite av-sync \
--checkpoint $CLAIMS/seed$k/$m --task ${t//+/,} --guidance $g --device cuda --quiet \
--out $MATRIX/seed$k/$g" >> /tmp/finals.sh
    done
  done
  python3 benchmarks/claims_queue.py --commands /tmp/finals.sh --snapshots checkpoints/av-sync/convergence \
    --snapshot-models "$SNAPSHOT_MODELS" --runs $MATRIX --jobs $JOBS --threads ${THREADS:-4} --gpus ${EVAL_GPUS:-$GPUS} --log /tmp/q \
    --stop-after-s $1 \
    >> /tmp/queue.log 2>&1
}
while kill -0 $TP 2>/dev/null && [ $(left) -gt 120 ]; do queue $(( $(left) - 120 )); sleep 5; done
wait $TP
queue $(( $(left) - 60 ))
# claims 1-2's measures of this call's finished MEASURES runs (linked through FINALS), against the campaign's
# stage-1 runs named by their repository paths (what the result files record)
if [ -n "${MEASURES:-}" ] && [ $(left) -gt 90 ]; then
  timeout $(( $(left) - 50 )) python3 benchmarks/claims_measures.py --checkpoints $CLAIMS --runs $MATRIX --device cuda \
    --streams ${STREAMS:-$CAMPAIGN/runs/streams-video,$CAMPAIGN/runs/streams-audio} --models "$MEASURES" \
    > /tmp/measures.log 2>&1 || echo "measures stopped: $(tail -1 /tmp/measures.log)"
fi

# pack: this call's PACK runs' weights (PACK x SEEDS, not snapshots: a machine kept warm between calls still holds the
# earlier calls' runs, and their weights would push the parts past the 64 MiB that come back), every weight's
# sha256, and every result file written in this call
(cd $CONV && sha256sum runs/*/seed-*/snapshots/step-*/ema.safetensors runs/*/seed-*/ema.safetensors > sha256.txt 2>/dev/null
 W=$(for m in ${PACK//,/ }; do for k in ${SEEDS//,/ }; do ls runs/$m/seed-$k/ema.safetensors 2>/dev/null; done; done)
 tar -cf - plan.json summary.json summary.md sha256.txt logs runs/*/seed-*/config.json runs/*/seed-*/metrics.jsonl $W) \
  | xz -T0 -1 | split -b 15M -d - $OUT/conv.tar.
find $MATRIX -newer /tmp/t0 -type f ! -name '*.mkv' ! -name '*.mp4' ! -name '*.wav' ! -name '*partial*' \
  | tar -cJf $OUT/matrix.tar.xz -T -
grep -h "FAILED\|CRASHED" /tmp/queue.log | grep -o "see [0-9]*.log" | cut -d' ' -f2 | sort -u \
  | while read f; do echo "== $f"; head -1 /tmp/q/$f; tail -25 /tmp/q/$f; done > $OUT/failed.log
tail -80 /tmp/queue.log > $OUT/queue.log; tail -40 /tmp/train.log > $OUT/train.log
[ -f /tmp/measures.log ] && tail -30 /tmp/measures.log >> $OUT/train.log
ls -la $OUT; echo "call used $(( SECONDS - T0 )) s"
