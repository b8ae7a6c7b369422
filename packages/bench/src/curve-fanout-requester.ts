// The fan-out curve's requesting service: one send per request, whose reply callback counts
// the replies and ends the conversation at the last of `BENCH_FAN_OUT`; the send resolves then.
import { ExoRelay } from 'exorelay'
import { busOptions, fanOut, serveParent } from './child.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'

const receivers = fanOut()
const relay = new ExoRelay({ serviceName: 'web', logger: false, ...busOptions() })
await relay.listen()

function request(): Promise<void> {
  let replies = 0
  return relay.send(REQUEST_NAME, PAYLOAD, (_payload, { end }) => {
    if (++replies === receivers) end()
  })
}

serveParent({
  port: 0,
  request,
  stop: () => relay.close(),
})
