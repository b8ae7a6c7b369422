export { DEFAULT_RETRY_BUDGET } from './retry.js'
export type { UndiciSenderOptions } from './undici-sender.js'
export { DEFAULT_CONNECTIONS, UndiciSender } from './undici-sender.js'
