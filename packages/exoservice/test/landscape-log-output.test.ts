import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLineWriter, type OutputLine, parseRecord } from '../src/index.js'

function collect(pretty: boolean) {
  const written: string[] = []
  const write = createLineWriter({
    pretty,
    colors: false,
    nameWidth: 9,
    write: (text) => written.push(text),
  })
  return { written, write }
}

const busLine = JSON.stringify({
  level: 30,
  time: 0,
  pid: 1,
  hostname: 'h',
  sender: 'web',
  receiver: 'users',
  messageName: 'users.create',
  messageId: 'm1',
  msg: 'web  --[ users.create ]->  users',
})

function line(service: string, text: string): OutputLine {
  return { service, text, record: parseRecord(text), stream: 'stdout' }
}

test('a JSON line is a record; other text, arrays and broken JSON are not', () => {
  assert.equal(parseRecord(busLine)?.msg, 'web  --[ users.create ]->  users')
  assert.equal(parseRecord('exocom: cannot listen'), undefined)
  assert.equal(parseRecord('[1, 2]'), undefined)
  assert.equal(parseRecord('{"level": 30,'), undefined)
})

test('without a terminal, each line passes through as it came, after the aligned service name', () => {
  const { written, write } = collect(false)
  write(line('exocom', busLine))
  write(line('passwords', 'plain text'))
  assert.deepEqual(written, [`exocom    | ${busLine}\n`, 'passwords | plain text\n'])
})

test('on a terminal, a record is pretty-printed with its message, without the routing fields', () => {
  const { written, write } = collect(true)
  write(line('exocom', busLine))
  assert.equal(written.length, 1)
  const [text] = written
  assert.match(text!, /^exocom {4}\| \S+ INFO: web {2}--\[ users\.create \]-> {2}users\n$/)
})

test('on a terminal, every line of a multi-line record carries the prefix', () => {
  const { written, write } = collect(true)
  write(line('users', JSON.stringify({ level: 30, time: 0, msg: 'online', port: 4001 })))
  const lines = written.join('').trimEnd().split('\n')
  assert.ok(lines.length > 1)
  for (const text of lines) assert.match(text, /^users {5}\| /)
  assert.ok(lines.some((text) => text.includes('port: 4001')))
})

test('with colours, each service keeps its own colour for its prefix', () => {
  const written: string[] = []
  const write = createLineWriter({
    pretty: true,
    colors: true,
    nameWidth: 5,
    write: (text) => written.push(text),
  })
  write(line('users', 'one'))
  write(line('web', 'two'))
  write(line('users', 'three'))
  const [users, web, usersAgain] = written.map((text) => text.slice(0, text.indexOf('|')))
  assert.notEqual(users, web)
  assert.equal(users, usersAgain)
  assert.ok(users!.includes('\u001b['), 'the prefix is coloured')
})
