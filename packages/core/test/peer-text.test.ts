import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FORBIDDEN_TEXT_LENGTH, QUOTED_TEXT_LENGTH, textStart } from '../src/peer-text.js'

const chunks = (...texts: string[]): Buffer[] => texts.map((text) => Buffer.from(text))
const size = (parts: Buffer[]): number => parts.reduce((sum, part) => sum + part.length, 0)
// How the shared undici exchange reads an answer's body: its chunks joined, then quoted.
const bodyText = (parts: Buffer[], length: number): string =>
  textStart(Buffer.concat(parts, length).toString('utf8'))

test('bodyText returns a short body trimmed and whole', () => {
  const parts = chunks('  no route ', '\n')
  assert.equal(bodyText(parts, size(parts)), 'no route')
  assert.equal(bodyText([], 0), '')
})

test('bodyText cuts a long body to its first 200 characters', () => {
  const parts = chunks('x'.repeat(300), 'y'.repeat(200))
  assert.equal(bodyText(parts, size(parts)), `${'x'.repeat(QUOTED_TEXT_LENGTH)}…`)
})

test('bodyText never splits a character made of two UTF-16 units', () => {
  const parts = chunks('😀'.repeat(300))
  const text = bodyText(parts, size(parts))
  assert.equal(Array.from(text).length, QUOTED_TEXT_LENGTH + 1)
  assert.ok(text.endsWith('😀…'))
})

test('bodyText joins a character split across two chunks', () => {
  const bytes = Buffer.from('grüße')
  const parts = [bytes.subarray(0, 3), bytes.subarray(3)]
  assert.equal(bodyText(parts, bytes.length), 'grüße')
})

// The original ExoCom's answer when it threw (Express's default error page): the stack and the
// absolute paths of the machine it runs on, in HTML.
const ORIGINAL_500_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Error</title>
</head>
<body>
<pre>TypeError: Cannot read properties of undefined (reading &#39;map&#39;)<br> &nbsp; &nbsp;at ClientRegistry.subscribersTo (/home/u/exocom/dist/client-registry.js:47:15)<br> &nbsp; &nbsp;at ExoCom.send (/home/u/exocom/dist/exocom.js:80:31)<br> &nbsp; &nbsp;at Layer.handle [as handle_request] (/home/u/exocom/node_modules/express/lib/router/layer.js:95:5)</pre>
</body>
</html>
`

test('textStart reduces an HTML error page with a stack to its first sentence', () => {
  const quoted = textStart(ORIGINAL_500_PAGE)
  assert.equal(quoted, "TypeError: Cannot read properties of undefined (reading 'map')")
  // The same page written on one line, quotes unescaped.
  assert.equal(
    textStart(
      "<!DOCTYPE html><html><head><title>Error</title></head><body><pre>TypeError: Cannot read properties of undefined (reading 'map')<br> &nbsp; &nbsp;at ClientRegistry.subscribersTo (/home/u/exocom/dist/client-registry.js:47:15)<br> …</pre></body></html>",
    ),
    "TypeError: Cannot read properties of undefined (reading 'map')",
  )
})

test('textStart reads a page as a browser shows it: blocks are lines, source line breaks are spaces', () => {
  const nginx =
    '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n'
  assert.equal(textStart(nginx), '502 Bad Gateway')
  assert.equal(textStart('<p>no\n  route <b>for</b> it</p><p>second</p>'), 'no route for it')
  assert.equal(
    textStart('<script>alert(1)</script><style>p{}</style><!-- x --><div>shown</div>'),
    'shown',
  )
  assert.equal(textStart('<HEAD><TITLE>İstanbul</TITLE></HEAD><BODY>shown</BODY>'), 'shown')
})

test("textStart decodes a page's entities once, and removes the tags that decoding reveals", () => {
  assert.equal(
    textStart('<p>a &lt;b&gt; &amp;amp; &quot;c&quot; &#39;d&#x27; &nbsp;e &bogus;</p>'),
    `a &amp; "c" 'd' e &bogus;`,
  )
  assert.equal(textStart('<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>'), 'alert(1)')
  assert.equal(textStart('<p>a < b and 1<2</p>'), 'a < b and 1<2')
})

test('textStart quotes text that is not a page as written: no tags, no entities', () => {
  assert.equal(textStart('a < b and 1<2'), 'a < b and 1<2')
  assert.equal(
    textStart("Type 'Promise<void>' is not assignable to 'a<b'"),
    "Type 'Promise<void>' is not assignable to 'a<b'",
  )
  assert.equal(textStart('a &lt;b&gt; &amp;'), 'a &lt;b&gt; &amp;')
  assert.equal(textStart('<notatag is fine'), '<notatag is fine')
})

test('textStart keeps the first line and ends it where a stack trace starts', () => {
  assert.equal(
    textStart('Error: boom\n    at f (/srv/app/x.js:1:2)\n    at g (node:internal/y:3:4)'),
    'Error: boom',
  )
  assert.equal(textStart('\n\n  Error: boom    at f (/srv/app/x.js:1:2)'), 'Error: boom')
  assert.equal(textStart('Error: boom at Object.f (/srv/app/x.js:1:2)'), 'Error: boom')
  assert.equal(textStart('first line\r\nsecond line'), 'first line')
})

test('textStart removes absolute file paths but keeps routes and URLs', () => {
  assert.equal(
    textStart("ENOENT: no such file or directory, open '/home/u/app/config.json'"),
    "ENOENT: no such file or directory, open ''",
  )
  assert.equal(
    textStart('failed in C:\\Users\\u\\app\\x.js:3:4, file:///srv/x.mjs and \\\\host\\share\\y.js'),
    'failed in , and',
  )
  assert.equal(textStart('thrown by (/opt/bus/index.js:12) here'), 'thrown by here')
  assert.equal(
    textStart(
      "unknown message 'users.create' on /send/users.create of http://127.0.0.1:3100/send/x",
    ),
    "unknown message 'users.create' on /send/users.create of http://127.0.0.1:3100/send/x",
  )
})

test('textStart collapses whitespace and drops control characters and terminal colours', () => {
  assert.equal(textStart('\u001b[31mError\u001b[0m: red\tand\u0007 bell'), 'Error: red and bell')
})

test('textStart drops a tag left open where the body was cut', () => {
  const parts = chunks(`<p>${'x'.repeat(50)}`, '<a href="/home/u/x.js')
  assert.equal(bodyText(parts, size(parts)), 'x'.repeat(50))
})

test('textStart scans a huge body only as far as its start', () => {
  const huge = `<html><head>${'<meta>'.repeat(1_000_000)}</head><body>late</body></html>`
  assert.equal(textStart(huge), '')
  assert.equal(textStart(`sentence${' '.repeat(2_000_000)}`), 'sentence')
})

// Each once cost its length squared (a 1 MiB answer froze the bus for minutes); a regression
// fails by the test timeout rather than by a timed assertion.
test('textStart reads a megabyte of spaces, of ats, of tags and of entities in linear time', () => {
  const mebibyte = 1 << 20
  assert.equal(textStart(`x${' '.repeat(mebibyte)}at`), 'x')
  assert.equal(textStart(`x${' at'.repeat(mebibyte / 3)}`).startsWith('x at at'), true)
  assert.equal(textStart(`<p>x${'<a'.repeat(mebibyte / 2)}`), 'x')
  assert.equal(textStart(`<p>${'&lt;a'.repeat(mebibyte / 5)}</p>`).startsWith('<a<a'), true)
  for (let run = 0; run < 256; run++) textStart(`x${' '.repeat(mebibyte)}`)
})

test('textStart quotes up to a longer length when asked (the bus’s own refusal), and cuts past it', () => {
  const sentence = `${'word '.repeat(150)}Use the token of 'users'.`
  assert.equal(textStart(sentence, FORBIDDEN_TEXT_LENGTH), sentence)
  assert.ok(textStart(sentence).length <= QUOTED_TEXT_LENGTH + 1)
  assert.doesNotMatch(textStart(sentence), /Use the token/)
  const long = 'y'.repeat(FORBIDDEN_TEXT_LENGTH + 5)
  assert.equal(textStart(long, FORBIDDEN_TEXT_LENGTH), `${'y'.repeat(FORBIDDEN_TEXT_LENGTH)}…`)
})
