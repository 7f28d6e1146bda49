/** Machine-readable output for `--json` flags: one pretty-printed JSON document on stdout. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
