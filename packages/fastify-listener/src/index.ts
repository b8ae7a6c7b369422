export type { ListenerRoutesOptions } from './routes.js'
export { DEFAULT_BODY_LIMIT, exoRelayRoutes } from './routes.js'
export type { StandaloneListenerOptions } from './standalone-listener.js'
export { StandaloneListener } from './standalone-listener.js'
