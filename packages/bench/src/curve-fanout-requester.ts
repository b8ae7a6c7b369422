// The fan-out curve's requesting service: one send per request, whose reply callback counts
// the replies and ends the conversation at the last of `BENCH_FAN_OUT`; the send resolves then,
// and fails when a reply is missing at its deadline (the relay's default, 10 s).
import { ExoRelay } from 'exorelay'
import { busOptions, fanOut, serveParent } from './child.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'

const receivers = fanOut()
const relay = new ExoRelay({ serviceName: 'web', logger: false, ...busOptions() })
await relay.listen()

async function request(): Promise<void> {
  let replies = 0
  await relay.send(REQUEST_NAME, PAYLOAD, (_payload, { end }) => {
    if (++replies === receivers) end()
  })
  // At its deadline a send with a callback ends normally once one reply came: a missing
  // reply is a failure of the request/reply all the same.
  if (replies < receivers) {
    throw new Error(`${replies} of ${receivers} replies came before the send's deadline.`)
  }
}

serveParent({
  port: 0,
  request,
  stop: () => relay.close(),
})
