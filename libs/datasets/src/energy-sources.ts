import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj';
import { v7 as uuidv7 } from 'uuid';
import type { Topology } from '@runforge/contracts';
import type { Asset, PriceSeries, SyntheticPriceSpec } from '@runforge/energy';

/** What a data source covers, without its prices (listings, validation messages). */
export interface EnergySourceInfo {
  readonly id: string;
  readonly name: string;
  /** `synthetic`: made by the seeded generator from `synthetic`; `csv`: uploaded. */
  readonly origin: 'synthetic' | 'csv';
  readonly synthetic?: SyntheticPriceSpec;
  readonly asset: Asset;
  readonly intervalMinutes: number;
  /** First interval's start and the end of the last one (ISO instants). */
  readonly from: string;
  readonly to: string;
  readonly intervals: number;
  readonly hasIntraday: boolean;
  readonly createdAt: string;
}

/** A data source of the energy models: a price series per interval and the asset it prices. */
export interface EnergySource extends EnergySourceInfo {
  readonly series: PriceSeries;
}

/** What submission needs to validate an energy run: the source, if it exists. */
export interface EnergySourceCatalog {
  energySource(id: string): Promise<EnergySource | undefined>;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The energy models' data sources in a JetStream object store bucket (readable by every worker
 * that reaches NATS): each object is the source as JSON, its description (all but the prices) in
 * the object's metadata. Loaded sources are kept by id (a source never changes once saved).
 */
export class EnergySourceStore implements EnergySourceCatalog {
  private readonly cache = new Map<string, Promise<EnergySource | undefined>>();
  private static readonly CACHE_ENTRIES = 16;

  private constructor(private readonly os: ObjectStore) {}

  static async open(nc: NatsConnection, t: Topology): Promise<EnergySourceStore> {
    return new EnergySourceStore(await new Objm(nc).create(t.energySourceBucket, { storage: StorageType.File }));
  }

  async save(
    source: {
      name: string;
      origin: EnergySourceInfo['origin'];
      synthetic?: SyntheticPriceSpec;
      asset: Asset;
      series: PriceSeries;
    },
    now = new Date(),
  ): Promise<EnergySourceInfo> {
    const stepMs = source.series.intervalMinutes * 60_000;
    const intervals = source.series.dayAhead.length;
    const info: EnergySourceInfo = {
      id: uuidv7(),
      name: source.name,
      origin: source.origin,
      ...(source.synthetic ? { synthetic: source.synthetic } : {}),
      asset: source.asset,
      intervalMinutes: source.series.intervalMinutes,
      from: new Date(Date.parse(source.series.start)).toISOString(),
      to: new Date(Date.parse(source.series.start) + intervals * stepMs).toISOString(),
      intervals,
      hasIntraday: source.series.intraday !== undefined,
      createdAt: now.toISOString(),
    };
    const whole: EnergySource = { ...info, series: source.series };
    await this.os.putBlob(
      { name: info.id, description: info.name, metadata: { info: JSON.stringify(info) } },
      new TextEncoder().encode(JSON.stringify(whole)),
    );
    return info;
  }

  async describe(id: string): Promise<EnergySourceInfo | undefined> {
    if (!ID.test(id)) return undefined;
    const oi = await this.os.info(id);
    if (!oi || oi.deleted || !oi.metadata?.info) return undefined;
    return JSON.parse(oi.metadata.info) as EnergySourceInfo;
  }

  async list(): Promise<EnergySourceInfo[]> {
    const all = await this.os.list();
    return all
      .filter((o) => !o.deleted && o.metadata?.info)
      .map((o) => JSON.parse(o.metadata?.info ?? '{}') as EnergySourceInfo)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  energySource(id: string): Promise<EnergySource | undefined> {
    if (!ID.test(id)) return Promise.resolve(undefined);
    const hit = this.cache.get(id);
    if (hit) return hit;
    const loading = (async () => {
      const bytes = await this.os.getBlob(id);
      return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as EnergySource) : undefined;
    })();
    // Only a found source is kept: one not found yet may be saved a moment later.
    void loading.then(
      (s) => (s ? undefined : this.cache.delete(id)),
      () => this.cache.delete(id),
    );
    this.cache.set(id, loading);
    while (this.cache.size > EnergySourceStore.CACHE_ENTRIES)
      this.cache.delete(this.cache.keys().next().value as string);
    return loading;
  }
}

/** A day-ahead position a DMO run committed: the net power per interval (MW, discharge positive). */
export interface CommittedPosition {
  readonly runId: string;
  readonly start: string;
  readonly intervalMinutes: number;
  readonly netMW: readonly number[];
}

/**
 * The committed day-ahead positions, by data source and delivery day: a completed DMO run writes its
 * plan here (the latest completed one wins), RMO reads it as the position it re-plans. In a KV
 * bucket, so it is RunForge's own result, readable by every worker.
 */
export class EnergyPositions {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, t: Topology): Promise<EnergyPositions> {
    return new EnergyPositions(await new Kvm(nc).create(t.energyPositionBucket, { history: 1 }));
  }

  private static key(sourceId: string, deliveryDate: string): string {
    return `${sourceId}.${deliveryDate}`;
  }

  async put(sourceId: string, deliveryDate: string, position: CommittedPosition): Promise<void> {
    await this.kv.put(EnergyPositions.key(sourceId, deliveryDate), JSON.stringify(position));
  }

  async get(sourceId: string, deliveryDate: string): Promise<CommittedPosition | undefined> {
    const e = await this.kv.get(EnergyPositions.key(sourceId, deliveryDate));
    return e && e.operation === 'PUT' ? e.json<CommittedPosition>() : undefined;
  }
}
