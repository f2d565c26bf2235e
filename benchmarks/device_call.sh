# Sourced by the one-call device scripts (stage1_variants.sh, stage2_variants.sh) after they set CALL_S and W:
# the carried wheels installed, the call's clock, and a log filter. DEVICE=cpu with SKIP_INSTALL=1 and a stub
# nvidia-smi on the PATH makes a CPU smoke test of the calling script.
T0=$SECONDS
# provenance: the device's copy of the tree has reported an older git HEAD than the tree sent (the session's first)
export CCL_BENCH_COMMIT=${CCL_BENCH_COMMIT:?set CCL_BENCH_COMMIT to the commit of the tree this call sends}
left() { echo $(( CALL_S - (SECONDS - T0) )); }  # seconds left of the call
scrub() { sed -E "s#/[^ ]*/site-packages/#<site-packages>/#g; s#$W/#<call folder>/#g; s#$HOME/\.cache/#<user cache>/#g"; }  # logs name no machine path
nvidia-smi -L
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONFAULTHANDLER=1
DEVICE=${DEVICE:-cuda}
[ -n "${SKIP_INSTALL:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .wheelhouse/*.whl
export PYTHONPATH=/tmp/site:$PWD
python3 -c "import av, soundfile, librosa, jsonschema, platformdirs" || exit 3
NGPU=$(nvidia-smi -L | wc -l)
GPU0=${GPU_OFFSET:-0}  # the first GPU this script's runs take (two scripts can share one call's machine)
fits() { [ $(( $1 + GPU0 )) -le "$NGPU" ] || { echo "$1 run(s) from GPU $GPU0 on $NGPU GPU(s)"; exit 2; }; }
