#!/usr/bin/env bash
# One call on a lent GPU machine that trains campaign runs, evaluates them there and packs everything that
# must come back, within CALL_S seconds (the lender's per-call limit is 600 s, and a machine idle for 30 s is
# taken back with all it holds: nothing may be left for a later call).
#
#   carry: .wheelhouse (PyAV, soundfile + cffi + pycparser, librosa + its pure-Python deps, jsonschema + deps,
#          platformdirs; `pip download --python-version 3.12 --only-binary=:all: --no-deps ...`; decord is left
#          out: the tree plus what is carried must stay under 64 MiB, and the PyAV reader decodes FFV1 the same)
#   env:   MODELS (comma list), SEEDS (default 0,1,2), SNAPSHOT_EVERY (0: none), CALL_S (default 570),
#          CCL_BENCH_COMMIT (the commit the tree is), JOBS (evaluations at once, default 8)
#   out:   $OUT/conv.tar.NN (15 MiB parts: plan, summary, configs, logs, finished runs' weights, snapshot
#          sha256s; not the snapshots), $OUT/matrix.tar.NN (the evaluations' result files), logs
#
#   At most 8 files and 64 MiB come back from a call: about six runs' weights (6.3 MB each) and their snapshot
#   evaluations (~0.35 MB each) per call, so give each call two models of three seeds.
#
#   Join at home: cat conv.tar.* | tar -x -C checkpoints/av-sync/convergence; cat matrix.tar.* | tar -x
set -u
T0=$SECONDS
CALL_S=${CALL_S:-570}
SEEDS=${SEEDS:-0,1,2}
JOBS=${JOBS:-8}
left() { echo $(( CALL_S - (SECONDS - T0) )); }

export PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .wheelhouse/*.whl
export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/bin:$PATH
mkdir -p /tmp/bin && printf '#!/bin/sh\nexec python3 -m ccl_bench "$@"\n' > /tmp/bin/ccl-bench && chmod +x /tmp/bin/ccl-bench
python3 -c "import av, soundfile, librosa, jsonschema, platformdirs, cv2" || exit 3

CONV=/tmp/conv
mkdir -p $CONV && { [ -d $CONV/streams ] || cp -rL checkpoints/av-sync/streams $CONV/streams; }
ln -sfn $CONV checkpoints/av-sync/convergence   # checkpoints are named by repository paths in every result file
touch /tmp/t0
nohup python3 benchmarks/train_small.py --out $CONV --only models --models "$MODELS" --seeds "$SEEDS" --order model \
  --steps 2000 --batch-size 128 --gpus 0,1 --budget-s $(( $(left) - 150 )) --reserve-s 40 --state-mib 1 \
  --snapshot-every "${SNAPSHOT_EVERY:-0}" --sheets none > /tmp/train.log 2>&1 &
TP=$!
# evaluate snapshots while training runs (one pass at a time; each pass takes the snapshots written so far)
while kill -0 $TP 2>/dev/null && [ $(left) -gt 200 ]; do
  python3 benchmarks/claims_queue.py --snapshots checkpoints/av-sync/convergence --snapshot-models "$MODELS" \
    --runs results/claims/matrix --jobs $JOBS --log /tmp/q --stop-after-s $(( $(left) - 200 )) >> /tmp/queue.log 2>&1
  sleep 5
done
wait $TP
python3 benchmarks/claims_queue.py --snapshots checkpoints/av-sync/convergence --snapshot-models "$MODELS" \
  --runs results/claims/matrix --jobs $JOBS --log /tmp/q --stop-after-s $(( $(left) - 90 )) >> /tmp/queue.log 2>&1

# pack: the finished runs (weights, not snapshots) and every result file written in this call
(cd $CONV && sha256sum runs/*/seed-*/snapshots/step-*/ema.safetensors runs/*/seed-*/ema.safetensors > sha256.txt 2>/dev/null
 tar -cf - plan.json summary.json summary.md sha256.txt logs runs/*/seed-*/config.json runs/*/seed-*/metrics.jsonl \
   runs/*/seed-*/ema.safetensors) | split -b 15M -d - $OUT/conv.tar.
find results/claims/matrix -newer /tmp/t0 -type f ! -name '*.mkv' ! -name '*.mp4' ! -name '*.wav' ! -name '*partial*' \
  | tar -cf - -T - | split -b 15M -d - $OUT/matrix.tar.
tail -60 /tmp/queue.log > $OUT/queue.log; tail -30 /tmp/train.log > $OUT/train.log
ls -la $OUT; echo "call used $(( SECONDS - T0 )) s"
