import { stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { isMap, isScalar, isSeq, type YAMLMap } from 'yaml'
import { ExoServiceError, ExoServiceErrorCodes } from './errors.js'
import { readServiceFile, SERVICE_TYPE, type ServiceFile } from './service-file.js'
import { parseYaml, readYamlText } from './yaml-file.js'

/** The file `exoservice landscape` reads when it is given none. */
export const APPLICATION_FILE_NAME = 'application.yml'

/** An application file, read and checked, with the `service.yml` of every service it lists. */
export interface ApplicationFile {
  /** The absolute path of the application file. */
  file: string
  /** The application's name, if it has one. */
  name: string | undefined
  /** What the application is, in a sentence. */
  description: string | undefined
  /** The application's version, if the file gives one (the AsyncAPI document's `info.version`). */
  version: string | undefined
  /** The bus. */
  bus: {
    /** The bus's kind: only ExoCom is run. */
    type: 'exocom'
    /** The port the file asks for, if it does; `0` is any free port. */
    port: number | undefined
  }
  /** The services, in the order the file lists them. */
  services: ApplicationService[]
}

/** One service of an application file. */
export interface ApplicationService {
  /** Its key in the application file: the service's `SERVICE_NAME` and its name on the bus. */
  name: string
  /** The group it is listed under (`public`, `private`…), if any. */
  group: string | undefined
  /** The absolute path of its folder. */
  folder: string
  /** Its `service.yml`. */
  service: ServiceFile
}

const KNOWN_KEYS = new Set(['name', 'description', 'version', 'bus', 'services', 'development'])

/**
 * Reads and checks an application file (the orchestrator's `application.yml`: the bus and the
 * service folders, optionally in groups), then the `service.yml` of every service it lists.
 * Throws an {@link ExoServiceError} coded `EXOSERVICE_ERR_APPLICATION_FILE` naming the file,
 * the line and what to fix when the file is missing, is not YAML, lists no services, lists a
 * name twice, or names a folder that does not exist; a folder without a valid `service.yml`
 * throws that file's `EXOSERVICE_ERR_SERVICE_FILE` error.
 *
 * @example
 * ```ts
 * import { readApplicationFile } from 'exoservice'
 *
 * const application = await readApplicationFile('application.yml')
 * for (const { name, service } of application.services) console.log(name, service.receives)
 * ```
 */
export async function readApplicationFile(file: string): Promise<ApplicationFile> {
  const path = resolve(file)
  const text = await readYamlText(
    path,
    ExoServiceErrorCodes.APPLICATION_FILE,
    `A landscape is described by an application file (${APPLICATION_FILE_NAME}) that lists the service folders; create one, or name the right file: \`exoservice landscape <file>\`.`,
  )
  const { doc, fail, lineOf } = parseYaml(text, path, ExoServiceErrorCodes.APPLICATION_FILE)
  const top = doc.contents
  if (!isMap(top)) {
    fail('must be a YAML mapping with `services` (and optionally `name`, `description`, `bus`).')
  }
  const root = top as YAMLMap
  for (const pair of root.items) {
    if (!KNOWN_KEYS.has(keyName(pair.key) ?? '')) {
      fail(
        `${unknownKey(pair.key)}. An application file has name, description, version, bus and services; check the spelling.`,
        pair.key,
      )
    }
  }

  const name = root.get('name')
  if (name !== undefined && name !== null && typeof name !== 'string') {
    fail('`name` must be a string.', root.get('name', true))
  }
  const description = root.get('description')
  if (description !== undefined && description !== null && typeof description !== 'string') {
    fail('`description` must be a string.', root.get('description', true))
  }
  // A version written as a number (`version: 1.2`) is taken as written, not as the number.
  const versionNode = root.get('version', true)
  if (versionNode !== undefined && !isScalar(versionNode)) {
    fail('`version` must be a string, e.g. `version: 1.2.0`.', versionNode)
  }
  const version =
    isScalar(versionNode) && versionNode.value !== null
      ? (versionNode.source ?? String(versionNode.value))
      : undefined

  let busPort: number | undefined
  const bus = root.get('bus', true)
  if (bus !== undefined && bus !== null && !(isScalar(bus) && bus.value === null)) {
    if (!isMap(bus)) fail('`bus` must be a mapping: `bus: { type: exocom, port: 3100 }`.', bus)
    const busMap = bus as unknown as YAMLMap
    for (const pair of busMap.items) {
      const key = keyName(pair.key)
      if (key !== 'type' && key !== 'port' && key !== 'version') {
        fail(`${unknownKey(pair.key, 'bus.')}: the bus has a type and a port.`, pair.key)
      }
    }
    const type = busMap.get('type')
    if (type !== undefined && type !== 'exocom') {
      fail(
        `bus.type ${JSON.stringify(type)} is not run here: the landscape runner starts ExoCom (\`type: exocom\`); for NATS set EXORELAY_TRANSPORT=nats and NATS_URL instead.`,
        busMap.get('type', true),
      )
    }
    const port = busMap.get('port')
    if (port !== undefined) {
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
        fail(
          `bus.port must be a port number from 0 to 65535 (0 = any free port), got ${JSON.stringify(port)}.`,
          busMap.get('port', true),
        )
      }
      busPort = port as number
    }
  }

  const services = root.get('services', true)
  const noServices =
    'lists no services: add `services:` with a folder for each, e.g. `services: { users: { location: ./users } }`.'
  if (
    services === undefined ||
    services === null ||
    (isScalar(services) && services.value === null)
  ) {
    fail(noServices, root.get('services', true) ?? undefined)
  }
  if (!isMap(services)) {
    fail(
      '`services` must be a mapping of service names (optionally in groups) to `{ location }`.',
      services,
    )
  }
  const folder = dirname(path)
  const listed: { name: string; group: string | undefined; location: string; at: unknown }[] = []
  const seen = new Map<string, number | undefined>()
  const add = (entryKey: unknown, value: unknown, group: string | undefined): void => {
    const entryName = isScalar(entryKey) ? String(entryKey.value) : ''
    const where = group === undefined ? entryName : `${group}.${entryName}`
    if (!SERVICE_TYPE.test(entryName) || entryName.length > 256) {
      fail(
        `'${where}' is not a valid service name (letters, digits, '.', '-', '_'; at most 256): it becomes the service's SERVICE_NAME. Rename it.`,
        entryKey,
      )
    }
    const map = value as YAMLMap
    for (const pair of map.items) {
      if (keyName(pair.key) !== 'location') {
        fail(
          `${unknownKey(pair.key)} in service '${where}': the runner runs local folders, named by \`location: ./folder\`.`,
          pair.key,
        )
      }
    }
    const location = map.get('location')
    if (typeof location !== 'string' || location.trim() === '') {
      fail(
        `service '${where}' has no \`location\`: add \`location: ./<folder>\`, the service's folder relative to this file.`,
        entryKey,
      )
    }
    const line = lineOf(entryKey)
    if (seen.has(entryName)) {
      const first = seen.get(entryName)
      fail(
        `the service name '${entryName}' is listed twice${first === undefined ? '' : ` (first at line ${first})`}: each service needs its own name on the bus; rename one.`,
        entryKey,
      )
    }
    seen.set(entryName, line)
    listed.push({
      name: entryName,
      group,
      location: location as string,
      at: map.get('location', true),
    })
  }
  for (const pair of (services as unknown as YAMLMap).items) {
    const value = pair.value
    if (!isMap(value)) {
      fail(
        `'${isScalar(pair.key) ? String(pair.key.value) : ''}' must be a service (\`{ location: ./folder }\`) or a group of services.`,
        pair.key,
      )
    }
    // A service has a `location`; anything else is a group (`public`, `private`…) of services.
    if ((value as YAMLMap).has('location')) {
      add(pair.key, value, undefined)
      continue
    }
    const group = isScalar(pair.key) ? String(pair.key.value) : ''
    for (const member of (value as YAMLMap).items) {
      if (!isMap(member.value)) {
        fail(
          `'${group}' is neither a service (it has no \`location\`) nor a group of services ('${group}.${isScalar(member.key) ? String(member.key.value) : ''}' is not one): give it \`location: ./folder\`, the service's folder relative to this file.`,
          member.key,
        )
      }
      add(member.key, member.value, group)
    }
  }
  if (listed.length === 0) fail(noServices, services)

  const result: ApplicationService[] = []
  for (const entry of listed) {
    const serviceFolder = resolve(folder, entry.location)
    const info = await stat(serviceFolder).catch(() => undefined)
    if (info === undefined || !info.isDirectory()) {
      fail(
        `the location of '${entry.name}', '${entry.location}' (${serviceFolder}), ${info === undefined ? 'does not exist' : 'is not a folder'}: fix the path (it is relative to this file).`,
        entry.at,
      )
    }
    result.push({
      name: entry.name,
      group: entry.group,
      folder: serviceFolder,
      service: await readServiceFile(serviceFolder),
    })
  }
  return {
    file: path,
    name: typeof name === 'string' ? name : undefined,
    description: typeof description === 'string' ? description : undefined,
    version,
    bus: { type: 'exocom', port: busPort },
    services: result,
  }
}

/** A key's text, or `undefined` for a key that is no plain value (a list or a mapping). */
function keyName(key: unknown): string | undefined {
  return isScalar(key) && key.value !== null ? String(key.value) : undefined
}

/** What is wrong with a key that is not expected: `unknown key 'bus.prot'`, or what it is. */
function unknownKey(key: unknown, prefix = ''): string {
  const name = keyName(key)
  if (name !== undefined) return `unknown key '${prefix}${name}'`
  return `a key that is ${isMap(key) ? 'a mapping' : isSeq(key) ? 'a list' : 'empty'}, not a name`
}
