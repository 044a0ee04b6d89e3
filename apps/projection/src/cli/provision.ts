import { DatasetStore, EnergyPositions, EnergySourceStore } from '@runforge/datasets';
import { provisionTopology } from '@runforge/messaging';
import { IdempotencyStore, RunWindowClaims } from '@runforge/submission';
import { openCli, runCli } from './cli-context';

/**
 * `npm run provision`: creates (or updates) the namespace's streams, durable consumers and buckets
 * as the operator. Under per-service NATS users (docs/security.md) the services may only look them
 * up, so this runs before they start (`npm start` and docker compose do).
 */
runCli(async () => {
  const ctx = await openCli('provision');
  try {
    const t = ctx.cfg.topology;
    await provisionTopology(ctx.nc, t);
    await DatasetStore.open(ctx.nc, t);
    await EnergySourceStore.open(ctx.nc, t);
    await EnergyPositions.open(ctx.nc, t);
    await IdempotencyStore.open(ctx.nc, t);
    await RunWindowClaims.open(ctx.nc, t);
    console.log(
      `provisioned ${Object.values(t.streams)
        .map((s) => s.name)
        .join(', ')}, their durable consumers and buckets`,
    );
    return 0;
  } finally {
    await ctx.close();
  }
});
