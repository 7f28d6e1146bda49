/** Ctrl-C and SIGTERM in the CLI: the first asks the work to checkpoint and stop, a second one ends the process at once. */
import { InterruptWatch, watchInterrupts } from "../util/interrupt";

export function cliInterrupts(): InterruptWatch {
  return watchInterrupts({
    releaseAfterFirst: true,
    onFirst: (signal) => console.error(`\n${signal}: checkpointing and stopping (send it again to exit at once, without the checkpoint) ...`),
  });
}
