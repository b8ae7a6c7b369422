import { type Contract, defineContract, type MessagesOf } from '@exorelay/core'
import * as v from 'valibot'
import { z } from 'zod'
import { REPLY_NAME, REQUEST_NAME } from './payload.js'

// The payload's shape ({ user, n, text }, see payload.ts) as a service would write its
// contract: a user name of bounded length, a whole non-negative number, a text. The reply is
// the payload sent back, so the reply's schema is the payload's. A schema of `z.string()`
// alone would measure less than a real contract checks; one with a pattern per field more.

const zodPayload = z.object({
  user: z.string().min(1).max(64),
  n: z.number().int().nonnegative(),
  text: z.string(),
})

const valibotPayload = v.object({
  user: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  n: v.pipe(v.number(), v.integer(), v.minValue(0)),
  text: v.string(),
})

const zodMessages = {
  [REQUEST_NAME]: { payload: zodPayload, replies: { [REPLY_NAME]: zodPayload } },
}

/** The benchmark's message map, as either contract types it. */
export type BenchMessages = MessagesOf<typeof zodMessages>

/** The benchmark's request and its reply, in zod 4. */
export const ZOD_CONTRACT: Contract<BenchMessages> = defineContract(zodMessages)

/** The benchmark's request and its reply, in valibot 1: the same message map. */
export const VALIBOT_CONTRACT: Contract<BenchMessages> = defineContract({
  [REQUEST_NAME]: { payload: valibotPayload, replies: { [REPLY_NAME]: valibotPayload } },
})

/** The validators measured, each with the same contract for the request and its reply. */
export const VALIDATORS = { zod: ZOD_CONTRACT, valibot: VALIBOT_CONTRACT } as const
export type ValidatorName = keyof typeof VALIDATORS
