import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { markdownTable } from './markdown.js'

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that the summary reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number
    readonly callFrame: {
      readonly functionName: string
      readonly url: string
      readonly lineNumber: number
    }
  }[]
  readonly startTime: number
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** A stretch of the monotonic clock in µs: the clock of `process.hrtime` and of V8's profiles. */
export interface ProfileWindow {
  readonly startUs: number
  readonly endUs: number
}

/** Self time of one category or function, in ms and as a share of the busy (non-idle) time. */
export interface SelfTime {
  readonly name: string
  readonly ms: number
  readonly share: number
}

export interface ProfileSummary {
  readonly name: string
  /** Sampled time that was not idle, in ms. */
  readonly busyMs: number
  readonly byCategory: readonly SelfTime[]
  readonly topFunctions: readonly (SelfTime & { readonly category: string })[]
}

// Packages that are part of Fastify's request path, reported together as Fastify.
const FASTIFY_PACKAGES = new Set([
  'fastify',
  'find-my-way',
  'avvio',
  'light-my-request',
  'fast-json-stringify',
  'secure-json-parse',
  'fast-querystring',
  'fast-decode-uri-component',
  'safe-regex2',
  'toad-cache',
  'process-warning',
  'abstract-logging',
  'rfdc',
  'fast-uri',
  'fastq',
  'reusify',
])
const PINO_PACKAGES = new Set([
  'pino',
  'pino-std-serializers',
  'sonic-boom',
  'thread-stream',
  'quick-format-unescaped',
  'atomic-sleep',
  'on-exit-leak-free',
  'fast-redact',
  'pino-abstract-transport',
])
const WORKSPACES: Readonly<Record<string, string>> = {
  core: 'exorelay core',
  exorelay: 'exorelay facade',
  'fastify-listener': '@exorelay/fastify-listener',
  'undici-sender': '@exorelay/undici-sender',
  exocom: '@exorelay/exocom',
  bench: 'bench harness',
}
// V8 shows these builtins without a URL; they are the JSON codec of the wire.
const JSON_BUILTINS = new Set(['parse', 'stringify', 'JSONParse', 'JSONStringify'])

/**
 * The package or runtime area a profiled function belongs to: Fastify (with its own
 * dependencies), undici, pino, exorelay core and its siblings, JSON, GC, Node's internals by
 * area, or the package name for anything else.
 */
export function categorize(frame: { readonly functionName: string; readonly url: string }): string {
  const { functionName, url } = frame
  if (functionName === '(garbage collector)') return 'GC'
  if (functionName === '(idle)') return 'idle'
  if (functionName === '(program)') return 'V8 (program)'
  if (functionName === '(root)') return 'root'
  if (url === '') return JSON_BUILTINS.has(functionName) ? 'JSON' : 'native (bindings, builtins)'
  if (url.startsWith('node:')) return nodeArea(url)
  // The only WebAssembly in these processes is llhttp, undici's HTTP parser.
  if (url.startsWith('wasm://')) return 'undici'
  // The last node_modules segment names the package (nested installs included).
  const inModules = url.lastIndexOf('/node_modules/')
  const pkg =
    inModules === -1
      ? undefined
      : /^((?:@[^/]+\/)?[^/]+)\//.exec(url.slice(inModules + '/node_modules/'.length))?.[1]
  if (pkg !== undefined) {
    if (pkg === 'fastify' || pkg.startsWith('@fastify/') || FASTIFY_PACKAGES.has(pkg))
      return 'fastify'
    if (pkg === 'undici') return 'undici'
    if (PINO_PACKAGES.has(pkg)) return 'pino'
    if (pkg === 'nats') return 'nats.js'
    if (pkg === 'tsx' || pkg === 'esbuild') return 'tsx loader'
    if (pkg.startsWith('@exorelay/')) return WORKSPACES[pkg.slice('@exorelay/'.length)] ?? pkg
    if (pkg === 'exorelay') return WORKSPACES.exorelay!
    return pkg
  }
  const workspace = /\/packages\/([^/]+)\/(?:dist|src)\//.exec(url)?.[1]
  if (workspace !== undefined) return WORKSPACES[workspace] ?? `packages/${workspace}`
  return 'other'
}

function nodeArea(url: string): string {
  if (/^node:(_http_|http$|internal\/http)/.test(url)) return 'node http'
  if (/^node:(net$|stream$|internal\/(stream|streams\/|net|dns|tcp))/.test(url)) {
    return 'node net/streams'
  }
  if (/^node:internal\/crypto/.test(url)) return 'node crypto'
  if (/^node:internal\/(abort_controller|event_target)/.test(url)) {
    return 'node AbortController/EventTarget'
  }
  if (
    /^node:(timers$|events$|internal\/(timers|process\/task_queues|async_hooks|process\/promises))/.test(
      url,
    )
  ) {
    return 'node timers/events/microtasks'
  }
  if (/^node:(buffer$|string_decoder$|internal\/(buffer|encoding))/.test(url)) return 'node buffer'
  if (/^node:internal\/(modules|main)/.test(url)) return 'node module loading'
  if (/^node:(child_process$|internal\/child_process)/.test(url)) return 'node IPC (bench)'
  return 'node other'
}

/** Raw self times of one or more profiles, before ranking. */
export interface SelfTimes {
  busyMs: number
  readonly byCategory: Map<string, number>
  readonly byFunction: Map<string, { ms: number; readonly category: string }>
}

/**
 * Self time by category and by function of one profile. Idle time is left out, and so is every
 * sample outside `window` (start-up and warm-up), when one is given.
 */
export function collectSelfTimes(profile: CpuProfile, window?: ProfileWindow): SelfTimes {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const times: SelfTimes = { busyMs: 0, byCategory: new Map(), byFunction: new Map() }
  let timestamp = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    timestamp += profile.timeDeltas[i] ?? 0
    if (window !== undefined && (timestamp < window.startUs || timestamp > window.endUs)) continue
    // A sample's time is the gap to the next one (the last sample gets none), as DevTools does.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
    const node = nodes.get(profile.samples[i]!)
    if (node === undefined) continue
    const category = categorize(node.callFrame)
    if (category === 'idle') continue
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}${url === '' ? '' : `:${lineNumber + 1}`}`
    add(times, category, key, ms)
  }
  return times
}

/** Adds up the self times of several profiles, e.g. one process over all rounds. */
export function mergeSelfTimes(parts: readonly SelfTimes[]): SelfTimes {
  const merged: SelfTimes = { busyMs: 0, byCategory: new Map(), byFunction: new Map() }
  for (const part of parts) {
    for (const [key, entry] of part.byFunction) add(merged, entry.category, key, entry.ms)
  }
  return merged
}

function add(times: SelfTimes, category: string, key: string, ms: number): void {
  times.busyMs += ms
  times.byCategory.set(category, (times.byCategory.get(category) ?? 0) + ms)
  const entry = times.byFunction.get(key)
  if (entry === undefined) times.byFunction.set(key, { ms, category })
  else entry.ms += ms
}

/** Ranks self times: categories by time, and the `top` functions. */
export function rankSelfTimes(name: string, times: SelfTimes, top = 15): ProfileSummary {
  const busy = times.busyMs
  const share = (ms: number) => (busy === 0 ? 0 : ms / busy)
  return {
    name,
    busyMs: busy,
    byCategory: [...times.byCategory]
      .map(([category, ms]) => ({ name: category, ms, share: share(ms) }))
      .sort((a, b) => b.ms - a.ms),
    topFunctions: [...times.byFunction]
      .map(([key, entry]) => ({
        name: key,
        ms: entry.ms,
        share: share(entry.ms),
        category: entry.category,
      }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  }
}

/** Self time by category and the top functions of one profile, idle and samples outside `window` left out. */
export function summarizeProfile(
  name: string,
  profile: CpuProfile,
  window?: ProfileWindow,
  top = 15,
): ProfileSummary {
  return rankSelfTimes(name, collectSelfTimes(profile, window), top)
}

/**
 * Summarises the profiles under `directory`, one folder per process as `--cpu-prof-dir`
 * filled it, named `<system>-r<round>-<process>`. Only each process's main thread counts
 * (thread id 0 in Node's default file name); the other files are tsx's module-loader thread.
 * `windows` limits each folder's profile to its measured phase. Rounds are added up: one
 * summary per system and process, then one per system for all its processes together.
 */
export async function summarizeProfiles(
  directory: string,
  windows: ReadonlyMap<string, ProfileWindow> = new Map(),
): Promise<ProfileSummary[]> {
  const folders = (await readdir(directory, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
  const byProcess = new Map<string, SelfTimes[]>()
  const bySystem = new Map<string, SelfTimes[]>()
  for (const folder of folders) {
    const [, system = folder, process = ''] = /^(.+)-r\d+-(.+)$/.exec(folder) ?? []
    const files = (await readdir(join(directory, folder))).filter((file) =>
      MAIN_THREAD_PROFILE.test(file),
    )
    for (const file of files) {
      const profile = JSON.parse(
        await readFile(join(directory, folder, file), 'utf8'),
      ) as CpuProfile
      const times = collectSelfTimes(profile, windows.get(folder))
      const processKey = `${system} ${process}`.trim()
      byProcess.set(processKey, [...(byProcess.get(processKey) ?? []), times])
      bySystem.set(system, [...(bySystem.get(system) ?? []), times])
    }
  }
  const summaries: ProfileSummary[] = []
  for (const [system, parts] of bySystem) {
    summaries.push(rankSelfTimes(`${system}: all processes`, mergeSelfTimes(parts), 25))
    for (const [key, processParts] of byProcess) {
      if (key.startsWith(`${system} `))
        summaries.push(rankSelfTimes(key, mergeSelfTimes(processParts)))
    }
  }
  return summaries
}

// CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile
const MAIN_THREAD_PROFILE = /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/

/**
 * The summaries as Markdown: one category table and one top-functions table per profile.
 * `during` names the window the summaries cover, for the heading.
 */
export function renderProfiles(
  summaries: readonly ProfileSummary[],
  during = 'the measured phases',
): string {
  const lines: string[] = [
    `# CPU profiles: self time during ${during}, idle excluded, rounds added up`,
    '',
    'Sampled wall time of each main thread: on a loaded machine a thread that waits for a core',
    'still collects samples, so compare shares, not milliseconds, between systems.',
    '',
  ]
  for (const summary of summaries) {
    lines.push(`## ${summary.name}: ${Math.round(summary.busyMs)} ms busy`, '')
    lines.push(
      ...markdownTable(
        ['category', 'ms', 'share'],
        summary.byCategory.map((entry) => [
          entry.name,
          String(Math.round(entry.ms)),
          percent(entry.share),
        ]),
        ['left', 'right', 'right'],
      ),
      '',
      ...markdownTable(
        ['top self-time functions', 'category', 'ms', 'share'],
        summary.topFunctions.map((entry) => [
          `\`${entry.name}\``,
          entry.category,
          String(Math.round(entry.ms)),
          percent(entry.share),
        ]),
        ['left', 'left', 'right', 'right'],
      ),
      '',
    )
  }
  return lines.join('\n')
}

function shortUrl(url: string): string {
  const inPackage = /.*\/(node_modules\/.*|packages\/.*)$/.exec(url)?.[1]
  return (inPackage ?? url).replace(/^file:\/\//, '')
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)} %`
}
