import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_LINE_LENGTH, serverSentEvents } from '../src/server-sent-events.js'

async function* from(chunks: (string | Buffer)[]) {
  yield* chunks
}

test('events end at a blank line; comments and unknown fields are skipped', async () => {
  const events = []
  for await (const event of serverSentEvents(
    from([
      ': keep-alive\n\n',
      'event: hello\nid: 1\ndata: {"a":1}\n\n',
      'retry: 5\ndata: x\ndata:y\n\n',
    ]),
  )) {
    events.push(event)
  }
  assert.deepEqual(events, [
    { event: 'hello', data: '{"a":1}', id: '1' },
    { event: 'message', data: 'x\ny', id: '1' },
  ])
})

test('a line split across chunks, a character split across buffers, and CRLF endings', async () => {
  const bytes = Buffer.from('data: {"name":"grüße"}\r\n\r\n')
  const cut = bytes.indexOf(0xc3) + 1 // inside the two bytes of ü
  const events = []
  for await (const event of serverSentEvents(
    from([
      bytes.subarray(0, cut),
      bytes.subarray(cut, bytes.length - 3),
      bytes.subarray(bytes.length - 3),
    ]),
  )) {
    events.push(event)
  }
  assert.deepEqual(events, [{ event: 'message', data: '{"name":"grüße"}' }])
})

test('a line longer than the limit fails with a coded error instead of filling memory', async () => {
  const long = 'x'.repeat(64 * 1024)
  const chunks = Array.from({ length: MAX_LINE_LENGTH / long.length + 2 }, () => long)
  await assert.rejects(
    async () => {
      for await (const _event of serverSentEvents(from(chunks))) {
        // none
      }
    },
    { code: 'EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE' },
  )
})
