/**
 * Executes one notebook headless through a real Jupyter: nbclient (Debian's python3-nbclient) starts the
 * kernel named in the notebook, runs every cell in order, and the executed copy is written even when a cell
 * fails, so the failure can be read from it. Progress (one line per code cell) goes to stderr.
 */
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";

export interface ExecuteOptions {
  notebook: string;
  /** Where the executed copy is written. */
  executed: string;
  /** Environment for the kernel (COVER_SCALE, COVER_OUT, JUPYTER_PATH, ...). */
  env: NodeJS.ProcessEnv;
  /** Seconds one cell may run. */
  cellTimeout: number;
  /** Default: the kernel named in the notebook. */
  kernel?: string;
  /** The kernel's working folder (default: the notebook's). */
  workingDir?: string;
  /** Default /usr/bin/python3 (Debian's, with the Jupyter packages). */
  python?: string;
  log?: (line: string) => void;
}

export interface ExecuteResult {
  ok: boolean;
  seconds: number;
  /** nbclient's own message when it failed (kernel did not start, cell error, timeout). */
  error?: string;
  /** 1-based number, among the code cells, of the cell that failed. */
  failedCell?: number;
}

// The driver reads its arguments from argv; on stdout it prints "cell i/n <seconds>s" after each code cell and
// "failed i" when code cell i fails (the cell's own output goes to the executed notebook, not here).
const DRIVER = String.raw`
import sys, time, nbformat
from nbclient import NotebookClient
src, dst, timeout, kernel = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
nb = nbformat.read(src, as_version=4)
code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
started = {}
def on_start(cell, cell_index):
    started[cell_index] = time.time()
def number(cell_index):
    return code.index(cell_index) + 1 if cell_index in code else 0
def on_done(cell, cell_index, execute_reply):
    print("cell %d/%d %.1fs" % (number(cell_index), len(code), time.time() - started.get(cell_index, time.time())), flush=True)
def on_error(cell, cell_index, execute_reply):
    print("failed %d" % number(cell_index), flush=True)
kw = dict(timeout=timeout, resources={"metadata": {"path": sys.argv[5]}},
          on_cell_start=on_start, on_cell_executed=on_done, on_cell_error=on_error)
if kernel:
    kw["kernel_name"] = kernel
client = NotebookClient(nb, **kw)
failed = None
try:
    client.execute()
except Exception as e:
    failed = e
finally:
    nbformat.write(nb, dst)
if failed is not None:
    sys.stderr.write("%s: %s\n" % (type(failed).__name__, str(failed).strip().splitlines()[-1] if str(failed).strip() else ""))
    sys.exit(1)
`;

export function executeNotebook(options: ExecuteOptions): Promise<ExecuteResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  const python = options.python ?? "/usr/bin/python3";
  const args = ["-c", DRIVER, resolve(options.notebook), resolve(options.executed), String(options.cellTimeout), options.kernel ?? "", resolve(options.workingDir ?? dirname(options.notebook))];
  const started = performance.now();
  return new Promise((done) => {
    const child = spawn(python, args, { env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let pending = "";
    let failedCell: number | undefined;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("cell ")) log(`  ${line}`);
        const failed = /^failed (\d+)$/.exec(line);
        if (failed) failedCell = Number(failed[1]);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => { stderr += chunk; });
    const finish = (ok: boolean, error?: string) => done({
      ok, seconds: (performance.now() - started) / 1000, ...(error ? { error } : {}), ...(failedCell ? { failedCell } : {}),
    });
    child.on("error", (err) => finish(false, `${python} did not start: ${err.message}`));
    child.on("close", (code) => {
      if (code === 0) return finish(true);
      // Debian's python prints debugger warnings on stderr; keep the lines that say what went wrong.
      const lines = stderr.split("\n").filter((l) => l.trim() !== "" && !/Debugger warning|frozen modules|PYDEVD|Debugging will proceed/.test(l));
      finish(false, lines.slice(-6).join("\n") || `exit code ${code}`);
    });
  });
}
