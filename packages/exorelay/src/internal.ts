// Internals shared with the sibling packages (exoservice). No semver: these may change in any
// release.
export { createBaseLogger } from './logger.js'
