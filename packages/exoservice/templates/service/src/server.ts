import { defineService } from 'exoservice'
import type { Messages } from './messages.js'

// The __NAME__ service: a handler for each message service.yml `receives`. `exoservice run`
// loads this module, and checks its handlers against service.yml before going online.
export default defineService<Messages>({
  beforeAll() {
    // Awaited before the service goes online: connect a database here, for instance.
  },

  '__NAME__.hello': ({ name }, { reply, log }) => {
    if (name.trim() === '') {
      return reply('__NAME__.not-greeted', { reason: 'the name is empty' })
    }
    log.info({ greeted: name }, 'greeting')
    return reply('__NAME__.greeted', { greeting: `Hello, ${name}!` })
  },

  afterAll() {
    // Awaited on shutdown, once the handlers still running have finished: close what
    // beforeAll opened.
  },
})
