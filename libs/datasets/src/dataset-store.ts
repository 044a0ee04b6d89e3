import type { NatsConnection } from '@nats-io/nats-core';
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj';
import { v7 as uuidv7 } from 'uuid';
import { barsChecksum, sliceBars, type Bars, type Timeframe } from '@runforge/engine';
import type { DatasetRef, Topology } from '@runforge/contracts';
import { DatasetError, type DatasetCatalog, type StoredBarsSource } from './bars-loader';

/** What `GET /api/datasets/{id}` shows. */
export interface DatasetInfo {
  readonly id: string;
  readonly symbol: string;
  readonly name: string | null;
  readonly timeframe: Timeframe;
  readonly bars: number;
  readonly firstTime: string;
  readonly lastTime: string;
  /** FNV-1a 64 over the columns: workers cache bars by it. */
  readonly checksum: string;
  readonly uploadedAt: string;
}

const COLUMNS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;

function encodeBars(bars: Bars): Uint8Array {
  const out = new Float64Array(bars.length * COLUMNS.length);
  COLUMNS.forEach((c, i) => out.set(bars[c], i * bars.length));
  return new Uint8Array(out.buffer);
}

function decodeBars(bytes: Uint8Array, info: DatasetInfo): Bars {
  const n = info.bars;
  if (bytes.byteLength !== n * COLUMNS.length * 8) {
    throw new DatasetError('DATASET_UNREADABLE', `dataset ${info.id}: ${bytes.byteLength} bytes stored, expected ${n * COLUMNS.length * 8}`);
  }
  // Copy into an aligned buffer (the object store hands back a view of arbitrary alignment).
  const all = new Float64Array(n * COLUMNS.length);
  new Uint8Array(all.buffer).set(bytes);
  const col = (i: number): Float64Array => all.subarray(i * n, (i + 1) * n);
  return { length: n, timeframe: info.timeframe, time: col(0), open: col(1), high: col(2), low: col(3), close: col(4), volume: col(5) };
}

/**
 * Uploaded datasets in a JetStream object store bucket — readable by every worker on any machine
 * that reaches NATS (no shared disk). Each object holds the six columns as little-endian float64;
 * the dataset's description rides in the object's metadata. Loaded bars are cached by checksum.
 */
export class DatasetStore implements StoredBarsSource, DatasetCatalog {
  private readonly cache = new Map<string, Promise<Bars>>();
  private static readonly CACHE_ENTRIES = 4;

  private constructor(private readonly os: ObjectStore) {}

  static async open(nc: NatsConnection, t: Topology): Promise<DatasetStore> {
    return new DatasetStore(await new Objm(nc).create(t.datasetBucket, { storage: StorageType.File }));
  }

  async save(bars: Bars, meta: { symbol: string; name?: string }, now = new Date()): Promise<DatasetInfo> {
    const info: DatasetInfo = {
      id: uuidv7(),
      symbol: meta.symbol,
      name: meta.name ?? null,
      timeframe: bars.timeframe,
      bars: bars.length,
      firstTime: new Date(bars.time[0] as number).toISOString(),
      lastTime: new Date(bars.time[bars.length - 1] as number).toISOString(),
      checksum: barsChecksum(bars),
      uploadedAt: now.toISOString(),
    };
    await this.os.putBlob({ name: info.id, description: `${info.symbol} ${info.timeframe}`, metadata: { info: JSON.stringify(info) } }, encodeBars(bars));
    return info;
  }

  async describe(id: string): Promise<DatasetInfo | undefined> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return undefined;
    const oi = await this.os.info(id);
    if (!oi || oi.deleted || !oi.metadata?.info) return undefined;
    return JSON.parse(oi.metadata.info) as DatasetInfo;
  }

  async list(): Promise<DatasetInfo[]> {
    const all = await this.os.list();
    return all
      .filter((o) => !o.deleted && o.metadata?.info)
      .map((o) => JSON.parse(o.metadata?.info ?? '{}') as DatasetInfo)
      .sort((a, b) => b.uploadedAt.localeCompare(a.uploadedAt));
  }

  async load(id: string): Promise<Bars> {
    const info = await this.describe(id);
    if (!info) throw new DatasetError('DATASET_NOT_FOUND', `unknown dataset "${id}"`);
    const hit = this.cache.get(info.checksum);
    if (hit) return hit;
    const loading = (async () => {
      const bytes = await this.os.getBlob(id);
      if (!bytes) throw new DatasetError('DATASET_NOT_FOUND', `dataset "${id}" has no data`);
      return decodeBars(bytes, info);
    })();
    loading.catch(() => this.cache.delete(info.checksum));
    this.cache.set(info.checksum, loading);
    while (this.cache.size > DatasetStore.CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    return loading;
  }

  /** Bars inside the reference's window, for validation and `totalBars`. */
  async barCount(ref: DatasetRef): Promise<number | undefined> {
    if (ref.id === undefined) return undefined;
    const info = await this.describe(ref.id);
    if (!info) return undefined;
    if (ref.from === undefined && ref.to === undefined) return info.bars;
    const toMs = (v: string | number | undefined): number | undefined => (v === undefined ? undefined : typeof v === 'number' ? v : Date.parse(v));
    return sliceBars(await this.load(ref.id), toMs(ref.from), toMs(ref.to)).length;
  }
}

