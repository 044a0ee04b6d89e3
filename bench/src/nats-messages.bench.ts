/**
 * What one stored message costs NATS itself, without any RunForge code: the machine's nats-server
 * stores a grid's worth of outcome bytes in a file-backed stream and delivers them to one pull
 * consumer, once as one message per trial (2,000 × ~770 B, as workers publish `TrialCompleted`) and
 * once as the batches the workers published before per-trial events (65 × ~23.7 KB). Publishes are
 * pipelined in 10 bursts, each message with a `Nats-Msg-Id`, as a worker's outcome flushes are; the
 * consumer acks every 100 messages (AckAll), as the projection acks a batch.
 *
 * Prints, per shape and alternating rounds: nats-server CPU seconds and system calls (read + write,
 * /proc/<pid>/io) from the first publish to the last delivery, and this process's CPU (the NATS
 * client publishing and consuming). The difference between the shapes is the per-message floor that
 * one event per trial adds to `bench:optimize`'s "CPU beside the engines" (see BENCHMARKS.md).
 *
 *   npm run bench:nats-messages
 *   BENCH_ROUNDS=6 node bench/dist/system/bench/src/nats-messages.bench.js
 */
import { randomBytes } from 'node:crypto';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { percentile, printMachine } from './support/bench-report';
import { cpuSecondsOf, pidsNamed, syscallsOf } from './support/cpu';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
const TRIALS = 2_000;
const OUTCOME_BYTES = 770;
const BURSTS = 10;
const SHAPES = [
  { name: `${TRIALS} messages of ${OUTCOME_BYTES} B (one per trial)`, count: TRIALS, size: OUTCOME_BYTES },
  {
    name: `65 messages of ${((TRIALS * OUTCOME_BYTES) / 65 / 1000).toFixed(1)} KB (batches)`,
    count: 65,
    size: Math.round((TRIALS * OUTCOME_BYTES) / 65),
  },
] as const;

interface Sample {
  natsCpu: number;
  natsSyscalls: number;
  clientCpu: number;
}

async function main(): Promise<void> {
  printMachine('nats-messages bench: what one stored message costs nats-server');
  const [pid] = pidsNamed('nats-server');
  if (pid === undefined) throw new Error('no nats-server process on this machine to measure');
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const ns = `benchnm${randomBytes(4).toString('hex')}`;
  const samples = new Map<string, Sample[]>(SHAPES.map((s) => [s.name, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round}`);
      for (const shape of SHAPES) {
        const stream = `NM_${ns}_${round}_${shape.count}`;
        const subject = `${ns}.${round}.${shape.count}.outcome`;
        await jsm.streams.add({ name: stream, subjects: [subject] });
        await jsm.consumers.add(stream, { durable_name: 'reader', ack_policy: AckPolicy.All });
        const consumer = await js.consumers.get(stream, 'reader');
        let received = 0;
        let allReceived!: () => void;
        const done = new Promise<void>((resolve) => (allReceived = resolve));
        const messages = await consumer.consume({
          max_messages: 1_000,
          callback: (m) => {
            received += 1;
            if (received % 100 === 0 || received === shape.count) m.ack();
            if (received === shape.count) allReceived();
          },
        });
        const payload = new Uint8Array(shape.size).fill(0x61);
        const cpu0 = cpuSecondsOf(pid) ?? Number.NaN;
        const sys0 = syscallsOf(pid) ?? Number.NaN;
        const client0 = process.cpuUsage();
        const perBurst = Math.ceil(shape.count / BURSTS);
        for (let first = 0; first < shape.count; first += perBurst) {
          const acks: Promise<unknown>[] = [];
          for (let i = first; i < Math.min(shape.count, first + perBurst); i++) {
            const h = headers();
            h.set('Nats-Msg-Id', `${stream}-${i}`);
            acks.push(js.publish(subject, payload, { headers: h }));
          }
          await Promise.all(acks);
        }
        await done;
        const client = process.cpuUsage(client0);
        const sample: Sample = {
          natsCpu: (cpuSecondsOf(pid) ?? Number.NaN) - cpu0,
          natsSyscalls: (syscallsOf(pid) ?? Number.NaN) - sys0,
          clientCpu: (client.user + client.system) / 1e6,
        };
        samples.get(shape.name)?.push(sample);
        console.log(
          `  ${shape.name}: nats-server ${sample.natsCpu.toFixed(2)} s CPU, ${sample.natsSyscalls} system calls; ` +
            `client (publish + consume) ${sample.clientCpu.toFixed(2)} s CPU`,
        );
        await messages.close();
        await jsm.streams.delete(stream);
      }
    }
  } finally {
    await nc.close();
  }
  console.log('\n## summary (median of the rounds, nearest rank; every round above)');
  const median = (xs: number[]): number => percentile(xs, 50);
  const [perTrial, batched] = SHAPES.map((s) => samples.get(s.name) ?? []);
  for (const shape of SHAPES) {
    const s = samples.get(shape.name) ?? [];
    console.log(
      `${shape.name}: nats-server ${median(s.map((x) => x.natsCpu)).toFixed(3)} s CPU, ` +
        `${median(s.map((x) => x.natsSyscalls))} system calls; client ${median(s.map((x) => x.clientCpu)).toFixed(3)} s CPU`,
    );
  }
  if (perTrial && batched) {
    const extra = median(perTrial.map((x) => x.natsCpu)) - median(batched.map((x) => x.natsCpu));
    const extraClient = median(perTrial.map((x) => x.clientCpu)) - median(batched.map((x) => x.clientCpu));
    console.log(
      `one message per trial costs nats-server ${(extra * 1000).toFixed(0)} ms more per ${TRIALS}-trial grid ` +
        `(${((extra / TRIALS) * 1e6).toFixed(0)} µs a message), and the NATS client ${(extraClient * 1000).toFixed(0)} ms more`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
