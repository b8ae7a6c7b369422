import { relative } from 'node:path'
import { describeValue } from '@exorelay/core/internal'
import { type Contract, isContract } from 'exorelay'
import { ExoServiceError, ExoServiceErrorCodes } from './errors.js'
import { exists, importModule, unwrapCommonJs } from './load-handlers.js'
import type { ServiceFile } from './service-file.js'

/**
 * Loads the contract module a service's `service.yml` names as `messages.contract`: its
 * `contract` export, else its default. `undefined` when the service names none. Throws an
 * {@link ExoServiceError} coded `EXOSERVICE_ERR_CONTRACT` naming the module and the fix when it
 * does not exist, throws while loading, or exports no contract.
 */
export async function loadContract(service: ServiceFile): Promise<Contract | undefined> {
  const file = service.contract
  if (file === undefined) return undefined
  const named = relative(service.folder, file)
  if (!(await exists(file))) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.CONTRACT,
      `${service.file}: \`contract: ${named}\` names a module that does not exist (${file}). Fix the path (it is relative to the service folder), or create the module.`,
      { file: service.file },
    )
  }
  const module = await importModule(file, ExoServiceErrorCodes.CONTRACT)
  const found = [module.contract, unwrapCommonJs(module.default)].find(isContract)
  if (found !== undefined) return found
  const exported =
    'contract' in module
      ? `its \`contract\` export ${notAContract(module.contract)}`
      : 'default' in module
        ? `its default export ${notAContract(unwrapCommonJs(module.default))}`
        : 'it exports neither `contract` nor a default, not a contract'
  throw new ExoServiceError(
    ExoServiceErrorCodes.CONTRACT,
    `${file}: ${service.file} names it as the contract, but ${exported}. Export one as \`export const contract = defineContract({ ... })\` (or as the default).`,
    { file },
  )
}

/** Why an export is no contract: a plain `{ messages }` was not made by `defineContract`. */
function notAContract(value: unknown): string {
  return typeof value === 'object' && value !== null && 'messages' in value
    ? 'is an object with messages, not made by defineContract'
    : `is ${describeValue(value)}, not a contract`
}
