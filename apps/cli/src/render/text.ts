import { formatDuration } from '@runforge/client';
import Table from 'cli-table3';

/** Human output is laid out for an 80-column terminal. */
export const WIDTH = 80;

/** A column of a table: its header, and whether it gives up width when the row is too wide. */
export interface Column {
  header: string;
  /** Shrinks (its cells truncated with "…") so the table fits; the others keep their width. */
  flex?: boolean;
  align?: 'left' | 'right';
}

/**
 * A borderless table that fits `width` columns: each column as wide as its widest cell, the flexible
 * ones shrunk (evenly) when the total is too wide.
 */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[], width = WIDTH): string {
  const gap = 2;
  const natural = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)) + gap);
  const total = natural.reduce((a, b) => a + b, 0);
  const widths = [...natural];
  const flex = columns.map((c, i) => (c.flex ? i : -1)).filter((i) => i >= 0);
  if (total > width && flex.length > 0) {
    const fixed = natural.reduce((sum, w, i) => (flex.includes(i) ? sum : sum + w), 0);
    const each = Math.max(6, Math.floor((width - fixed) / flex.length));
    for (const i of flex) widths[i] = Math.min(natural[i] ?? each, each);
  }
  // The last column needs no gap after it.
  const last = widths.length - 1;
  widths[last] = Math.max(1, (widths[last] ?? 1) - gap + 1);
  const t = new Table({
    head: columns.map((c) => c.header),
    colWidths: widths,
    colAligns: columns.map((c) => c.align ?? 'left'),
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '',
    },
    style: { 'padding-left': 0, 'padding-right': gap - 1, head: [], border: [] },
    wordWrap: false,
  });
  t.push(...rows.map((r) => [...r]));
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** `text` cut to `max` characters, ending in "…" when cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** `text` wrapped at word boundaries to `width`, every line after the first indented by `indent`. */
export function wrap(text: string, width = WIDTH, indent = ''): string {
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      const room = width - (out.length === 0 && line === '' ? 0 : indent.length);
      if (line && line.length + 1 + word.length > room) {
        out.push(line);
        line = '';
      }
      // A word longer than a line is cut into pieces.
      let rest = word;
      while (rest.length > width - indent.length) {
        if (line) out.push(line);
        out.push(rest.slice(0, width - indent.length));
        rest = rest.slice(width - indent.length);
        line = '';
      }
      line = line ? `${line} ${rest}` : rest;
    }
    out.push(line);
  }
  return out.map((l, i) => (i === 0 ? l : `${indent}${l}`)).join('\n');
}

/** `label  value` lines, labels padded to one width, values wrapped under themselves. */
export function keyValues(pairs: readonly (readonly [string, string])[], width = WIDTH): string {
  const labelWidth = Math.min(24, Math.max(...pairs.map(([k]) => k.length))) + 2;
  const pad = ' '.repeat(labelWidth);
  return pairs
    .map(([k, v]) => `${k.padEnd(labelWidth)}${wrap(v, width - labelWidth, '').replace(/\n/g, `\n${pad}`)}`)
    .join('\n');
}

/** A count as people read it: 1,234 — or 1.2M when it is large. */
export function count(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 100_000)
    return new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(n);
  return Math.round(n).toLocaleString('en-US');
}

/** A duration: "812 ms", "4.2 s", "3 min 20 s", "2 h 5 min" (the client's formatter, shared with the dashboard). */
export const millis = formatDuration;

/** A duration in at most 6 characters, for tables: "827ms", "4.2s", "3m20s", "2h05m". */
export function shortMillis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** How long ago an instant was, shortly: "12s", "5m", "3h", "2d". */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '–';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** An instant in UTC, to the second: "2026-12-06 14:03:19Z". */
export function instant(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}
