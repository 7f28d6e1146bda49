#!/usr/bin/env bash
# Registers the tslab TypeScript kernel for this project only, under <project>/.jupyter (nothing global).
#
# - Jupyter must be the one of Debian's python3 (/usr/bin/python3, which has the jupyter packages); the pyenv
#   python3 that comes first on PATH does not. COVER_JUPYTER_PYTHON=<python> picks another.
# - tslab sets the TypeScript rootDir to the kernel's working folder and ignores tsconfig.json, so a kernel started
#   in notebooks/ cannot import ../src. This kernel starts tslab from the project root instead: notebooks import
#   "./src/..." and relative paths (runs/, ../shared/data) mean what they mean on the command line.
#   notebooks/src -> ../src makes the same imports work under a global tslab kernel too.
# - tslab runs the modules it compiled itself but resolves no folder imports ("./src/report" -> index.ts) and no
#   module it did not compile; node starts it with tsx loaded, so those fall back to tsx as on the command line.
# - scripts/notebooks-kernel.js turns off TypeScript's folder watching inside tslab, which otherwise breaks the
#   next cell when a file appears in a watched folder ("Unexpected pending rebuildTimer").
# - Jupyter finds the kernel through JUPYTER_PATH=<project>/.jupyter/share/jupyter (printed at the end;
#   `npm run notebooks:run` sets it itself).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${COVER_JUPYTER_PYTHON:-/usr/bin/python3}"
TSLAB="$ROOT/node_modules/.bin/tslab"
KERNEL_MAIN="$ROOT/scripts/notebooks-kernel.js"
PREFIX="$ROOT/.jupyter"
KERNEL_DIR="$PREFIX/share/jupyter/kernels/tslab"

if [ ! -x "$TSLAB" ]; then
  echo "notebooks:setup: $TSLAB is missing; run npm install first" >&2
  exit 1
fi
if ! "$PY" -c "import jupyter_client" 2>/dev/null; then
  echo "notebooks:setup: $PY has no jupyter_client; install Debian's Jupyter packages:" >&2
  echo "  apt-get install -y jupyter-notebook jupyter-client python3-nbclient jupyter-nbconvert python3-ipykernel" >&2
  exit 1
fi

rm -rf "$PREFIX/share/jupyter/kernels/tslab" "$PREFIX/share/jupyter/kernels/jslab"
# tslab's installer writes the kernel spec and its logos; the JavaScript spec is not used by this project.
"$TSLAB" install --python="$PY" --binary="$TSLAB" --prefix="$PREFIX" >/dev/null
rm -rf "$PREFIX/share/jupyter/kernels/jslab"

# Start tslab from the project root whatever folder the notebook is in
# ($1 = root, $2 = node, $3 = the kernel entry, which patches tslab then starts it, $4 = connection file).
ROOT="$ROOT" KERNEL_MAIN="$KERNEL_MAIN" KERNEL_DIR="$KERNEL_DIR" node -e '
const { writeFileSync } = require("node:fs");
const spec = {
  argv: ["/bin/sh", "-c", "cd \"$1\" && exec \"$2\" --import tsx \"$3\" kernel --config-path \"$4\"", "tslab-cover-kit",
         process.env.ROOT, process.execPath, process.env.KERNEL_MAIN, "{connection_file}"],
  display_name: "TypeScript (cover-kit)",
  language: "typescript",
  metadata: { "cover-kit": { root: process.env.ROOT } },
};
writeFileSync(process.env.KERNEL_DIR + "/kernel.json", JSON.stringify(spec, null, 2) + "\n");
'

# Fallback for a tslab kernel started in notebooks/ (e.g. a global one): the same "./src/..." imports resolve.
if [ ! -e "$ROOT/notebooks/src" ]; then
  ln -s ../src "$ROOT/notebooks/src"
fi

export JUPYTER_PATH="$PREFIX/share/jupyter"
LISTED="$("$PY" -m jupyter kernelspec list 2>/dev/null || true)"
if ! grep -qF "$KERNEL_DIR" <<<"$LISTED"; then
  echo "notebooks:setup: Jupyter does not list $KERNEL_DIR" >&2
  exit 1
fi
echo "notebooks:setup: registered kernel 'tslab' (TypeScript (cover-kit)) in $KERNEL_DIR"
echo "  Use it with:  export JUPYTER_PATH=$JUPYTER_PATH"
echo "  JupyterLab:   pip install jupyterlab && JUPYTER_PATH=$JUPYTER_PATH jupyter lab notebooks/"
echo "  Headless:     npm run notebooks:run -- --scale smoke"
