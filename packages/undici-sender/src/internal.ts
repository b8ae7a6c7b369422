// Internals shared by the sibling packages (the bus delivers through the same pools). No
// semver: these may change in any release. Keep this entry free of undici's entry point: a
// sibling importing it must load undici's Pool alone (test/pool.test.ts checks).
export { createPool } from './pool.js'
