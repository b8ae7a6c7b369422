import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { lineChart } from '../src/chart.js'

describe('lineChart', () => {
  it('draws one polyline per series and names each in the legend', () => {
    const svg = lineChart({
      title: 'Cold <start>',
      xLabel: 'request/replies',
      yLabel: 'p50 µs',
      series: [
        {
          label: 'floor',
          points: [
            [0, 10],
            [500, 20],
            [1000, 15],
          ],
        },
        {
          label: 'ExoRelay & co',
          points: [
            [0, 12],
            [500, 30],
          ],
        },
      ],
    })
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    assert.equal(svg.match(/<polyline /g)?.length, 2)
    assert.equal(svg.match(/<circle /g)?.length, 5)
    assert.match(svg, /<title>Cold &lt;start&gt;<\/title>/)
    assert.match(svg, />ExoRelay &amp; co</)
    assert.doesNotMatch(svg, /<script/)
  })

  it('places the smallest value at the bottom and the largest at the top of the plot', () => {
    const svg = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      height: 400,
      series: [
        {
          label: 'a',
          points: [
            [1, 0],
            [2, 100],
          ],
        },
      ],
    })
    const [first, second] = [...svg.matchAll(/<circle cx="[^"]+" cy="([^"]+)"/g)].map((m) =>
      Number(m[1]),
    )
    assert.equal(first, 400 - 48) // the bottom margin
    assert.equal(second, 36) // the top margin: 100 is the highest tick
  })

  it('puts powers of ten on a log axis, and refuses a value it cannot place there', () => {
    const svg = lineChart({
      title: 'payload',
      xLabel: 'bytes',
      yLabel: 'req/s',
      xScale: 'log',
      series: [
        {
          label: 'a',
          points: [
            [100, 1],
            [1_000_000, 2],
          ],
        },
      ],
    })
    for (const tick of ['100', '1k', '10k', '1M']) assert.match(svg, new RegExp(`>${tick}</text>`))
    assert.match(svg, /bytes \(log scale\)/)
    assert.throws(
      () =>
        lineChart({
          title: 'bad',
          xLabel: 'x',
          yLabel: 'y',
          yScale: 'log',
          series: [{ label: 'a', points: [[1, 0]] }],
        }),
      {
        code: 'EXORELAY_ERR_ARG_INVALID_OPTION',
        message: /bad: y is on a log scale but has the value 0/,
      },
    )
  })

  it('refuses a chart with nothing to draw, naming it', () => {
    assert.throws(() => lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }), {
      message: "The chart 'empty' has no points to draw.",
    })
  })
})
