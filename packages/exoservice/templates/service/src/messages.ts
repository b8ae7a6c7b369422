/**
 * The messages of the __NAME__ service: what each carries and the replies it may get. The
 * handlers in server.ts and the test are type-checked against it; a service that sends to this
 * one can use it too.
 */
export type Messages = {
  '__NAME__.hello': {
    payload: { name: string }
    replies: {
      '__NAME__.greeted': { greeting: string }
      '__NAME__.not-greeted': { reason: string }
    }
  }
}
