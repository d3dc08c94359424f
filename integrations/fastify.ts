/**
 * Fastify 5: the route template of a request, from the tracing channel Fastify publishes
 * around each route handler, `{ request, reply, route: { url, method } }` (not published for
 * its 404 handler). No code in the app: the agent subscribes (main-thread/context.ts).
 */

export const FASTIFY_HANDLER_START = 'tracing:fastify.request.handler:start';

interface FastifyHandlerMessage {
  request?: { raw?: unknown };
  route?: { url?: unknown };
}

/**
 * The template of the handler a message announces, when that handler serves `req`: a
 * handler running outside it (an inject() call inside another request) must not rename that
 * request's route.
 */
export function fastifyRoute(message: unknown, req: unknown): string | undefined {
  const m = message as FastifyHandlerMessage;
  if (req !== m.request?.raw) return undefined;
  const url = m.route?.url;
  return typeof url === 'string' ? url : undefined;
}
