#!/usr/bin/env bash
# One call on a lent GPU machine: stage-1 video-stream variants, one per GPU at once, each joined with the committed
# audio stream and its T2V picture measured (`benchmarks/motion_probe.py --task t2v`) beside the shipped streams'
# on the same card, so a variant is judged before any stage 2 is trained on it.
#
#   VARIANTS="long:--clips 8192 --steps 12000 --decay-steps 3000;wide:--clips 8192 --steps 5000 --set video_dim=256" \
#     CALL_S=570 bash benchmarks/stage1_variants.sh
#
#   carry: .wheelhouse (as benchmarks/device_session.sh); the tree must hold checkpoints/av-sync/streams and
#          checkpoints/av-sync/campaign-v2/runs/streams-audio (move the rest of checkpoints/ out for the call)
#   env:   CCL_BENCH_COMMIT (required: the commit of the tree sent, for the provenance),
#          VARIANTS ("name:ccl-bench train arguments;..."; each trains `--model none --stage streams --streams video
#          --scale small --batch-size 128` plus its arguments; `--init-from RUN` continues a committed video run),
#          CALL_S (default 570), PROBE ("steps:guidance:text:shift"), BASE (a video run probed, beside the audio
#          stream, as the baseline instead of the shipped streams), GPU_OFFSET (the first GPU the variants take, so
#          that stage2_variants.sh can share the call: install the wheels once and give both SKIP_INSTALL=1)
#   out:   $OUT/<name>.tar.NN (15 MiB parts, `cat <name>.tar.* | tar -x`; runs/<name>: ema.safetensors, config.json,
#          metrics.jsonl, train_command.json, log.txt with the machine's paths replaced), $OUT/probe.md (the T2V flicker table of the shipped streams and of every variant)
# A variant still training when the call's time is nearly up gets SIGTERM: its last checkpoint's EMA comes back, and
# its config.json says how many steps it reached.
set -u
CALL_S=${CALL_S:-570}
PROBE=${PROBE:-25:cfg:4:3}
AUDIO=checkpoints/av-sync/campaign-v2/runs/streams-audio
W=/tmp/variants && mkdir -p $W/runs
. benchmarks/device_call.sh
IFS=';' read -ra SPECS <<< "$VARIANTS"
fits ${#SPECS[@]}
PIDS=() NAMES=()
TRAIN_S=$(( $(left) - 40 - 30 * ${#SPECS[@]} ))  # then a probe of about 30 s per variant and the packing
i=$GPU0
for spec in "${SPECS[@]}"; do
  name=${spec%%:*} args=${spec#*:}
  # shellcheck disable=SC2086  # the variant's arguments are words
  CUDA_VISIBLE_DEVICES=$i timeout -s TERM -k 20 $TRAIN_S python3 -m ccl_bench train --model none --suite av-sync \
    --stage streams --streams video --scale small --batch-size 128 --out $W/runs/$name --quiet $args \
    > $W/runs/$name.log 2>&1 &
  PIDS+=($!) NAMES+=("$name") i=$(( i + 1 ))
done
echo "training ${NAMES[*]} for at most $TRAIN_S s"
with_audio() { python3 -c "from ccl_bench.runner.train import merge_streams as m; m(['$1', '$AUDIO'], '$2')"; }
SHIPPED=checkpoints/av-sync/streams
if [ -n "${BASE:-}" ]; then  # the baseline is this video run beside the audio stream, not the shipped streams
  SHIPPED=$W/joined/base && with_audio "$BASE" $SHIPPED
fi
CUDA_VISIBLE_DEVICES=$GPU0 python3 benchmarks/motion_probe.py --checkpoint $SHIPPED --task t2v --num 12 --settings $PROBE \
  --device $DEVICE > $W/probe-shipped.md 2>$W/probe-shipped.err
for k in "${!PIDS[@]}"; do
  name=${NAMES[$k]}
  wait "${PIDS[$k]}"; echo "$name: exit $?"; tail -2 $W/runs/$name.log
  tail -1 $W/runs/$name/metrics.jsonl
  with_audio $W/runs/$name $W/joined/$name &&
    CUDA_VISIBLE_DEVICES=$(( GPU0 + k )) python3 benchmarks/motion_probe.py --checkpoint $W/joined/$name --task t2v --num 12 \
      --settings $PROBE --device $DEVICE > $W/probe-$name.md 2>$W/probe-$name.err
  scrub < $W/runs/$name.log > $W/runs/$name/log.txt
  tar -cf - --exclude checkpoint.pt -C $W runs/$name | split -b 15m -d - $OUT/$name.tar.  # a file comes back under 16 MiB
done
{ echo "# T2V flicker on $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), setting $PROBE"
  echo; echo "## ${BASE:-shipped streams}"; cat $W/probe-shipped.md
  for name in "${NAMES[@]}"; do echo; echo "## $name"; grep -h "| all |" $W/probe-$name.md || tail -3 $W/probe-$name.err; done
} > $OUT/probe.md
cat $OUT/probe.md
echo "call took $(( SECONDS - T0 )) s"
