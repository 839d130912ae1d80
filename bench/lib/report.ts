/**
 * Shared output for every benchmark: a plain table on stdout and a JSON file under
 * bench/results/, so runs can be compared. Benchmarks compare against a baseline measured in the
 * same run; this module only formats and writes, it never judges.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export type Row = Record<string, string | number>;

/** Formats rows as an aligned text table (numbers right-aligned). */
export function table(rows: Row[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? fmt(v) : (v ?? ''));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[], nums: boolean[]) =>
    vals.map((v, i) => (nums[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  const numeric = cols.map((c) => typeof rows[0]![c] === 'number');
  return [
    line(cols, numeric),
    line(widths.map((w) => '-'.repeat(w)), numeric),
    ...rows.map((r) => line(cols.map((c) => cell(r[c])), numeric)),
  ].join('\n') + '\n';
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

/** Percentile (0–100) of an ascending-sorted array, nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Prints the table and writes bench/results/<name>-<date>.json; returns the JSON path. */
export function report(name: string, rows: Row[], extra: Record<string, unknown> = {}): string {
  process.stdout.write(`\n${name}\n${table(rows)}`);
  const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().slice(0, 10)}.json`);
  const machine = { node: process.version, arch: arch(), cpus: cpus().length, cpu: cpus()[0]?.model, mem_gib: Math.round(totalmem() / 2 ** 30) };
  writeFileSync(file, JSON.stringify({ name, date: new Date().toISOString(), machine, rows, ...extra }, null, 2) + '\n');
  process.stdout.write(`wrote ${file}\n`);
  return file;
}
