import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { markdownTable } from '../src/markdown.js'

describe('markdownTable', () => {
  it('pads every cell to its column width, numbers to the right, as Biome formats a table', () => {
    const table = markdownTable(
      ['a', 'b'],
      [
        ['xxxxxxx', '1234'],
        ['`µs`', '22'],
      ],
      ['left', 'right'],
    )
    assert.deepEqual(table, [
      '| a       |    b |',
      '| ------- | ---: |',
      '| xxxxxxx | 1234 |',
      '| `µs`    |   22 |',
    ])
  })

  it('makes every column at least three characters wide', () => {
    assert.deepEqual(markdownTable(['a'], [['b']], ['left']), ['| a   |', '| --- |', '| b   |'])
  })

  it('fills a short row with empty cells', () => {
    assert.deepEqual(markdownTable(['aaa', 'bbb'], [['x']], ['left', 'left']), [
      '| aaa | bbb |',
      '| --- | --- |',
      '| x   |     |',
    ])
  })
})
