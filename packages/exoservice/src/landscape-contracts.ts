// The landscape as the check (`exoservice check`) and the AsyncAPI document (`exoservice
// asyncapi`) see it: each service's messages from its service.yml, and its contract, loaded
// and exported as JSON Schema. `loadLandscapeContracts` (in this file) builds it.

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
  services: readonly ContractService[]
}
