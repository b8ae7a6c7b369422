// OpenTelemetry's semantic conventions for messaging (https://opentelemetry.io/docs/specs/semconv/messaging/),
// copied rather than imported: they are still in development, and OpenTelemetry asks libraries
// not to depend on the package's incubating entry point.

export const ATTR_MESSAGING_SYSTEM = 'messaging.system'
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name'
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type'
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name'
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id'
export const ATTR_MESSAGING_MESSAGE_CONVERSATION_ID = 'messaging.message.conversation_id'
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name'
export const ATTR_ERROR_TYPE = 'error.type'
/** Not a convention: the outcome a request's reply named (`users.created`). */
export const ATTR_EXORELAY_REPLY_OUTCOME = 'exorelay.reply.outcome'

/** `messaging.system`: the conventions list brokers by name; ExoRelay is its own. */
export const MESSAGING_SYSTEM = 'exorelay'

export const METRIC_CLIENT_OPERATION_DURATION = 'messaging.client.operation.duration'
export const METRIC_PROCESS_DURATION = 'messaging.process.duration'
export const METRIC_CLIENT_SENT_MESSAGES = 'messaging.client.sent.messages'
export const METRIC_CLIENT_CONSUMED_MESSAGES = 'messaging.client.consumed.messages'

/** The buckets the conventions advise for both duration histograms, in seconds. */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]
