// Tests use the same in-process dynalite as the local hub and the benchmarks.
export { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo.js';
