import { pino } from 'pino'
import { SpanLineExporter } from './span-lines.js'
import { startTracing } from './tracing.js'

// Loaded before a service's own code (`node --import tsx --import <this file> src/main.ts`),
// as OpenTelemetry's Node.js set-ups are: the service's code stays as it is, and every
// relay in the process is traced. The launcher adds it with OTEL_TRACES_EXPORTER=console.
startTracing(new SpanLineExporter(pino()))
