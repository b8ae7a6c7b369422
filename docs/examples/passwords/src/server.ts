import { passwordsService } from './passwords-service.js'

// The handler map `exoservice run` loads (service.yml's startup command): the service's whole
// program. The relay, the environment, the online line and the stop on SIGTERM are the runner's.
export default passwordsService()
