import { Injectable } from '@nestjs/common';
import type { DatasetRef } from '@runforge/contracts';
import type { Bars } from '@runforge/engine';
import { DatasetStore, loadBars } from '@runforge/datasets';

/**
 * Keeps the last few materialised datasets: every trial of an optimization runs over the same bars,
 * so a worker generates (or downloads) them once per run, not once per batch.
 */
@Injectable()
export class BarsCache {
  private readonly entries = new Map<string, Promise<Bars>>();
  private static readonly CAPACITY = 3;

  constructor(private readonly datasets: DatasetStore) {}

  get(ref: DatasetRef): Promise<Bars> {
    const key = JSON.stringify(ref);
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit); // most recently used last
      return hit;
    }
    const loading = loadBars(ref, this.datasets);
    loading.catch(() => this.entries.delete(key));
    this.entries.set(key, loading);
    while (this.entries.size > BarsCache.CAPACITY) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return loading;
  }
}
