import { once } from 'node:events'
import { pino } from 'pino'
import { buildApp } from './app.js'

// Wiring only: the relay reads EXOCOM_PORT and EXOCOM_HOST from the environment; the API
// (and the relay mounted in it) listens on PORT.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' })
const serviceName = process.env.SERVICE_NAME || 'web'

async function main(): Promise<void> {
  const port = portFromEnv('PORT', 3000)
  const timeout = timeoutFromEnv('REQUEST_TIMEOUT')
  const app = await buildApp({
    relay: { serviceName },
    logger,
    ...(timeout === undefined ? {} : { timeout }),
  })
  // The relay goes online (registered with the bus) just after the app listens: the online
  // line waits for it, so that the first request's reply can find its way back here.
  const online = once(app.exorelay, 'online')
  try {
    await app.listen({ port, host: '127.0.0.1' })
  } catch (err) {
    await app.close()
    throw err
  }
  await online
  const address = app.server.address()
  const listening = typeof address === 'object' && address !== null ? address.port : port
  // The landscape runner waits for this text: service.yml's online-text, as ExoServices print it.
  logger.info({ service: serviceName, port: listening }, `online at port ${listening}`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Closing the app closes the relay too, which withdraws the service from the bus.
    process.once(signal, () => {
      logger.info({ service: serviceName, signal }, 'stopping')
      app.close().catch((err: unknown) => {
        logger.error({ service: serviceName, err }, 'could not stop cleanly')
        process.exitCode = 1
      })
    })
  }
}

function portFromEnv(variable: string, fallback: number): number {
  const value = process.env[variable]
  if (value === undefined || value === '') return fallback
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${variable} must be a port number from 0 to 65535, got '${value}'.`)
  }
  return port
}

function timeoutFromEnv(variable: string): number | undefined {
  const value = process.env[variable]
  if (value === undefined || value === '') return undefined
  const timeout = Number(value)
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new RangeError(`${variable} must be a positive number of milliseconds, got '${value}'.`)
  }
  return timeout
}

try {
  await main()
} catch (err) {
  logger.fatal({ service: serviceName, err }, 'could not start')
  process.exitCode = 1
}
