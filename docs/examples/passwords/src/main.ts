import { pino } from 'pino'
import { createPasswordsService } from './passwords-service.js'

// Wiring only: the relay reads EXOCOM_PORT, EXOCOM_HOST and EXORELAY_PORT from the environment.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' })
const serviceName = process.env.SERVICE_NAME || 'passwords'

try {
  const relay = createPasswordsService({ serviceName, logger })
  const port = await relay.listen()
  // The landscape launcher waits for this line.
  logger.info({ service: serviceName, port }, 'ready')
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Closing withdraws the service from the bus before the port goes away.
    process.once(signal, () => {
      logger.info({ service: serviceName, signal }, 'stopping')
      relay.close().catch((err: unknown) => {
        logger.error({ service: serviceName, err }, 'could not stop cleanly')
        process.exitCode = 1
      })
    })
  }
} catch (err) {
  logger.fatal({ service: serviceName, err }, 'could not start')
  process.exitCode = 1
}
