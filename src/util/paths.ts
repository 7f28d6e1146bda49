import { realpathSync } from "node:fs";
import { resolve } from "node:path";

/** The project root, also when this file is reached through the notebooks/src link. */
export const PROJECT_ROOT = resolve(realpathSync(__dirname), "../..");
