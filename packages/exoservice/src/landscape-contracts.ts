// The landscape as the check (`exoservice check`) and the AsyncAPI document (`exoservice
// asyncapi`) see it: each service's messages from its service.yml, and its contract, loaded
// and exported as JSON Schema. `loadLandscapeContracts` (in this file) builds it.

import { dirname } from 'node:path'
import type { ApplicationFile } from './application-file.js'
import { exportJsonSchema } from './json-schema.js'
import { loadContract } from './load-contract.js'

/** A schema of a contract, exported as JSON Schema, or the reason it could not be. */
export type ExportedSchema =
  | {
      /** The schema as JSON Schema draft-07 (what AsyncAPI's default schema format takes). */
      jsonSchema: Record<string, unknown>
      /** The validator library that made it, from `~standard.vendor` (`zod`, `valibot`, `arktype`). */
      vendor: string
    }
  | {
      /** Why there is no JSON Schema, as one sentence naming the fix. */
      note: string
      vendor: string
    }

/** One message of a contract: its payload schema and the schema of each reply outcome. */
export interface ContractMessage {
  /** `undefined` for a message declared without a payload. */
  payload: ExportedSchema | undefined
  /** The outcomes a reply may have, by name; empty for a message that is never answered. */
  replies: ReadonlyMap<string, ExportedSchema>
}

/** A service's contract module, loaded. */
export interface LoadedContract {
  /** The absolute path of the module service.yml names. */
  module: string
  /** Its messages, by name. */
  messages: ReadonlyMap<string, ContractMessage>
}

/** One service of the landscape, with its messages and its contract. */
export interface ContractService {
  /** Its name in application.yml: its name on the bus. */
  name: string
  /** What it does, from its service.yml. */
  description: string | undefined
  /** What its service.yml says it receives and sends (requests and the outcomes it replies with). */
  receives: readonly string[]
  sends: readonly string[]
  /** Its contract, when its service.yml names one. */
  contract: LoadedContract | undefined
}

/** The whole landscape, in application.yml's order. */
export interface LandscapeContracts {
  /** The absolute path of application.yml. */
  file: string
  /** The application's name and description, from application.yml. */
  name: string | undefined
  description: string | undefined
  /** application.yml's `version`, if it has one. */
  version: string | undefined
  /** application.yml's `bus.port`, if it names one (`0`: any free port). */
  busPort?: number | undefined
  services: readonly ContractService[]
}

/**
 * Loads the contract of every service of the application that names one (its module imported,
 * TypeScript through tsx, as `exoservice run` loads handlers) and exports each of its schemas as
 * JSON Schema. Rejects with an `ExoServiceError` coded `EXOSERVICE_ERR_CONTRACT` when a contract
 * module is missing, throws, or exports no contract; a schema that cannot be exported is a
 * `note`, not a failure.
 *
 * @example
 * ```ts
 * import { loadLandscapeContracts, readApplicationFile } from 'exoservice'
 *
 * const landscape = await loadLandscapeContracts(await readApplicationFile('application.yml'))
 * for (const { name, contract } of landscape.services) console.log(name, contract?.module)
 * ```
 */
export async function loadLandscapeContracts(
  application: ApplicationFile,
): Promise<LandscapeContracts> {
  const services: ContractService[] = []
  for (const { name, service } of application.services) {
    const contract = await loadContract(service)
    let loaded: LoadedContract | undefined
    if (contract !== undefined && service.contract !== undefined) {
      const folder = dirname(service.contract)
      const messages = new Map<string, ContractMessage>()
      for (const [message, schemas] of Object.entries(contract.messages)) {
        const replies = new Map<string, ExportedSchema>()
        for (const [outcome, schema] of Object.entries(schemas.replies ?? {})) {
          replies.set(outcome, await exportJsonSchema(schema, folder))
        }
        messages.set(message, {
          payload:
            schemas.payload === undefined
              ? undefined
              : await exportJsonSchema(schemas.payload, folder),
          replies,
        })
      }
      loaded = { module: service.contract, messages }
    }
    services.push({
      name,
      description: service.description,
      receives: service.receives,
      sends: service.sends,
      contract: loaded,
    })
  }
  return {
    file: application.file,
    name: application.name,
    description: application.description,
    version: application.version,
    busPort: application.bus.port,
    services,
  }
}
