// One contract variant of core's micro-benchmark, alone in its process (see `measureApart` in
// core-micro.ts): argv `<validator|none> <validateOutgoing> <iterations> <warmup>`; prints the
// nanoseconds per request/reply.
import { measureCore } from './core-micro.js'
import { VALIDATORS, type ValidatorName } from './payload-contract.js'

const [validator, validateOutgoing, iterations, warmup] = process.argv.slice(2)
const ns = await measureCore(
  validator === 'none'
    ? {}
    : {
        contract: VALIDATORS[validator as ValidatorName],
        validateOutgoing: validateOutgoing === 'true',
      },
  { iterations: Number(iterations), warmup: Number(warmup) },
)
process.stdout.write(`${ns}\n`)
