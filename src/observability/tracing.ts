/**
 * OpenTelemetry tracing: a request continues the trace of the agent that submitted it. Intake reads the W3C
 * `traceparent` header and opens its span under it; that span's context is stored with the request, so the spans of
 * its deliveries (cards, updates, notifications, the callback) and of the votes on it, on whichever node and however
 * much later, are children of the same trace. Spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is
 * set, or to the exporter the composition root is given; otherwise nothing is recorded (a non-recording span still
 * carries the agent's context through).
 *
 * One tracer provider per app, never registered globally: several apps in one process (tests) keep their spans apart.
 */
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';

export interface Tracing {
  /** Whether spans are recorded (an exporter or endpoint was given): callers skip the work of linking them otherwise. */
  readonly enabled: boolean;
  /**
   * Runs `fn` in a span named `name`, child of the context in `traceParent` (a W3C traceparent; a new trace without
   * one, or a malformed one: the header is a claim). `fn` gets the span's own traceparent, to store or pass on
   * (undefined when there is no trace to continue), and the span, for attributes known only later. The span records
   * an exception and error status when `fn` throws, and ends when it settles.
   */
  inSpan<T>(
    name: string,
    opts: { traceParent?: string | null; kind?: SpanKind; attributes?: Attributes },
    fn: (traceParent: string | undefined, span: Span) => Promise<T>,
  ): Promise<T>;
  /**
   * The W3C headers (`traceparent`) of the span the caller runs in, for an outbound call the receiver may continue
   * (the result callback); empty outside a recorded span.
   */
  activeTraceHeaders(): Record<string, string>;
  /** Exports what is buffered (shutdown, tests). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();
const getter = { get: (carrier: Record<string, string>, key: string) => carrier[key], keys: (carrier: Record<string, string>) => Object.keys(carrier) };

/** The context a W3C traceparent names (the root context when it is absent or malformed: the header is a claim). */
function contextOf(traceParent: string | null | undefined): Context {
  if (!traceParent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent: traceParent }, getter);
}

/** The traceparent of the span in `ctx` (only the W3C format is written), or undefined for an invalid span context. */
function traceParentOf(ctx: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, { set: (c, k, v) => void (c[k] = v) });
  return carrier.traceparent;
}

/**
 * Builds tracing for one app. `exporter` wins over `endpoint` (an OTLP/HTTP base URL: spans go to `<endpoint>/v1/traces`,
 * as the OTLP specification defines for OTEL_EXPORTER_OTLP_ENDPOINT). Neither: spans are not recorded.
 */
export function createTracing(opts: { serviceName: string; endpoint?: string; exporter?: SpanExporter }): Tracing {
  const exporter = opts.exporter ?? (opts.endpoint ? new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/$/, '')}/v1/traces` }) : undefined);
  const provider = exporter
    ? new TracerProvider({ resource: resourceFromAttributes({ 'service.name': opts.serviceName }), spanProcessors: [new BatchSpanProcessor({ exporter })] })
    : undefined;
  // Without a provider the API's no-op tracer: its spans record nothing but carry their parent's context.
  const tracer: Tracer = provider ? provider.getTracer('countersign') : trace.getTracer('countersign');
  // The span a call runs in follows it through async code (AsyncLocalStorage), so an outbound call deep in a delivery can
  // name it. Process-wide and idempotent: a second registration is refused by the API and the first one serves all apps.
  if (provider) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

  return {
    enabled: provider !== undefined,
    async inSpan(name, { traceParent, kind, attributes }, fn) {
      // The parent is passed explicitly (no global context manager): the stored traceparent is what links the spans.
      const parent = contextOf(traceParent);
      const span = tracer.startSpan(name, { kind: kind ?? SpanKind.INTERNAL, attributes }, parent);
      try {
        const ctx = trace.setSpan(parent, span);
        return await context.with(ctx, () => fn(traceParentOf(ctx), span));
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
        throw err;
      } finally {
        span.end();
      }
    },
    activeTraceHeaders() {
      if (!provider) return {};
      const carrier: Record<string, string> = {};
      propagator.inject(context.active(), carrier, { set: (c, k, v) => void (c[k] = v) });
      return carrier;
    },
    flush: async () => provider?.forceFlush(),
    shutdown: async () => provider?.shutdown(),
  };
}

export { SpanKind };
