/**
 * The floor's HTTP server (bench:throughput, BENCH_FLOOR): bare Fastify, no Nest, no auth, no
 * validation, no telemetry, answering a JSON POST with a small 202 — what one HTTP request costs on
 * this machine before RunForge does anything with it. Sends its port to the parent over IPC.
 */
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';

const app = Fastify({ logger: false });
app.post('/jobs', async (req, reply) => {
  void reply.status(202);
  return { id: randomUUID(), status: 'Pending', size: JSON.stringify(req.body).length };
});
app.listen({ host: '127.0.0.1', port: 0 }).then(
  () => {
    const address = app.server.address();
    process.send?.(typeof address === 'object' && address ? address.port : 0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
// Forked by the bench: never outlive it.
process.on('disconnect', () => process.exit(0));
