#!/usr/bin/env bash
# CI stage: build the native TensorFlow backend from a TensorFlow wheel, then run the backend tests on it.
# When it cannot be built here (no wheel, no compiler) it says so in one line and exits 0: the kit runs on wasm.
# A native backend that builds but gives wrong numbers fails the stage (that is a bug, not a missing extra).
# Env: TF_VERSION (default 2.21.0), NATIVE_WHEEL (a wheel file to use instead of pip download).
set -uo pipefail
cd "$(dirname "$0")/.."

TF_VERSION="${TF_VERSION:-2.21.0}"
WHEELS=native/wheels
skip() { echo "native: skipped: $* (the kit keeps running on wasm)"; exit 0; }

for tool in python3 g++ make; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed, so the binding cannot be compiled"
done

wheel="${NATIVE_WHEEL:-}"
if [ -z "$wheel" ]; then
  wheel=$(ls "$WHEELS"/tensorflow_cpu-"$TF_VERSION"-*.whl 2>/dev/null | head -n1)
fi
if [ -z "$wheel" ]; then
  mkdir -p "$WHEELS"
  if ! python3 -m pip download --no-deps --disable-pip-version-check -q -d "$WHEELS" "tensorflow-cpu==$TF_VERSION" >/tmp/native-pip.log 2>&1; then
    skip "no TensorFlow wheel can be had (pip download tensorflow-cpu==$TF_VERSION failed: $(tail -n1 /tmp/native-pip.log))"
  fi
  wheel=$(ls "$WHEELS"/tensorflow_cpu-"$TF_VERSION"-*.whl 2>/dev/null | head -n1)
  [ -n "$wheel" ] || skip "pip download tensorflow-cpu==$TF_VERSION left no wheel in $WHEELS"
fi

start=$(date +%s)
if ! npm run --silent native:build -- --wheel "$wheel"; then
  skip "npm run native:build failed with $wheel (its reason is printed above)"
fi
echo "native: built in $(( $(date +%s) - start )) s from $(basename "$wheel")"

echo "native: backend tests with COVER_BACKEND=tensorflow"
COVER_BACKEND=tensorflow node scripts/run-tests.js test/backend || { echo "native: backend tests FAILED on the native backend"; exit 1; }

echo "native: the whole test suite on the native backend (COVER_TEST_BACKEND=tensorflow)"
COVER_TEST_BACKEND=tensorflow node scripts/run-tests.js --import=./src/backend/register-native.ts test \
  || { echo "native: the test suite FAILED on the native backend"; exit 1; }

npx cover backend --bench

if [ -f bench/model.ts ]; then
  echo "native: bench:model on tensorflow and wasm"
  npm run --silent bench:model -- --backends tensorflow,wasm || echo "native: bench:model failed (see above); not a CI failure"
fi
