/** Ctrl-C and SIGTERM in the CLI: the first asks the work to checkpoint and stop, a second one exits at once. */
import { InterruptWatch, SIGNAL_EXIT_CODES, watchInterrupts } from "../util/interrupt";

export function cliInterrupts(): InterruptWatch {
  return watchInterrupts({
    onFirst: (signal) => console.error(`\n${signal}: checkpointing and stopping (send it again to exit at once) ...`),
    onRepeat: (signal) => process.exit(SIGNAL_EXIT_CODES[signal]),
  });
}
