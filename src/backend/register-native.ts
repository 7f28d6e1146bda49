/**
 * Loads the native binding at start-up (`node --import ./src/backend/register-native.ts ...`) so that code which
 * calls `tf.setBackend("tensorflow")` itself finds the backend registered. .ci/native.sh uses it to run the whole
 * test suite on the native backend (COVER_TEST_BACKEND=tensorflow). Throws when there is no binding to load.
 */
import { builtCandidate, loadBinding, officialGpuCandidate } from "./native";

const candidate = builtCandidate() ?? officialGpuCandidate();
if (!candidate) throw new Error("register-native: no native binding (run npm run native:build)");
loadBinding(candidate);
