import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/**
 * OpenTelemetry traces, off unless GATEHOUSE_TRACING=otlp. Spans carry ids (workspace, endpoint,
 * delivery, event) and outcomes, never a payload, header, URL path or secret. Without a registered
 * provider the API hands out no-op spans, so the calls below cost next to nothing when off.
 */
const tracer = () => trace.getTracer('gatehouse');

/** Starts the OTLP exporter (it reads the standard OTEL_EXPORTER_OTLP_* variables); returns its shutdown. */
export function startTracing(serviceName = 'gatehouse'): () => Promise<void> {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // The default propagator: W3C trace context (and baggage), what `traceparent` headers carry.
  provider.register();
  return () => provider.shutdown();
}

/** The caller's trace (a `traceparent` header), if it sent one, as the parent of what runs in `fn`. */
export function withRemoteParent<T>(carrier: Record<string, unknown>, fn: () => T): T {
  return context.with(propagation.extract(context.active(), carrier), fn);
}

/** A span around `fn`, ended when it settles; a throw marks the span as an error. */
export async function inSpan<T>(name: string, opts: { attributes?: Attributes; kind?: SpanKind; parent?: Context }, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes: opts.attributes, kind: opts.kind ?? SpanKind.INTERNAL }, opts.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active span as a W3C traceparent, to store with work another process will do; null when not sampled. */
export function currentTraceParent(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/** The context a stored traceparent names, to continue its trace. */
export const parentFrom = (traceParent: string | null | undefined): Context =>
  traceParent ? propagation.extract(context.active(), { traceparent: traceParent }) : context.active();

export { SpanKind, SpanStatusCode };
