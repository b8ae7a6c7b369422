// Internals shared by the sibling packages (the bus delivers through the same pools, the same
// exchange and the same batch queue). No semver: these may change in any release. Keep this
// entry free of undici's entry point: a sibling importing it must load undici's Pool alone
// (test/pool.test.ts checks).
export { BatchQueue } from './batch-queue.js'
export { answerText, refusal, unreachableError } from './bus-errors.js'
export { nodeTimers } from './deadline.js'
export {
  type ExchangeContext,
  type Failure,
  type RawAnswer,
  UndiciExchange,
} from './exchange.js'
export { createPool } from './pool.js'
export { isConnectTimeout } from './retry.js'
