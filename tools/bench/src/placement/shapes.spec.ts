import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TraceEntry } from '../trace';
import { generateShape, SHAPES } from './shapes';

const models = Array.from({ length: 12 }, (_, i) => `m${i}`);
const opts = (seed: number) => ({ models, requests: 1000, rate: 2, seed });
const count = (t: TraceEntry[], f: (e: TraceEntry) => boolean) => t.filter(f).length;
const top = (t: TraceEntry[]) => {
  const c = new Map<string, number>();
  for (const e of t) c.set(e.model, (c.get(e.model) ?? 0) + 1);
  return [...c.entries()].sort((a, b) => b[1] - a[1])[0][0];
};

test('every shape is deterministic per seed, differs across seeds, sorted, of the asked size and rate', () => {
  for (const shape of SHAPES) {
    const a = generateShape(shape, opts(1));
    assert.deepEqual(a, generateShape(shape, opts(1)), shape);
    assert.notDeepEqual(a, generateShape(shape, opts(2)), shape);
    assert.equal(a.length, 1000, shape);
    for (let i = 1; i < a.length; i++) assert.ok(a[i].t >= a[i - 1].t, shape);
    const rate = a.length / a[a.length - 1].t;
    assert.ok(rate > 1.5 && rate < 2.7, `${shape}: ${rate} req/s`);
  }
});

test('steady: Zipf popularity over interactive requests from 12 users', () => {
  const t = generateShape('steady', opts(3));
  assert.equal(count(t, (e) => e.priority === 'bulk'), 0);
  assert.equal(new Set(t.map((e) => e.user)).size, 12);
  assert.ok(count(t, (e) => e.model === 'm0') > 3 * count(t, (e) => e.model === 'm5'));
});

test('phases: the most requested model changes between quarters', () => {
  const t = generateShape('phases', opts(4));
  const span = t[t.length - 1].t;
  const tops = [0, 1, 2, 3].map((q) => top(t.filter((e) => e.t >= (q * span) / 4 && e.t < ((q + 1) * span) / 4)));
  assert.ok(new Set(tops).size >= 3, tops.join(','));
});

test('cold-burst: 15% of requests for one model nobody asked for before, within 10 s', () => {
  const t = generateShape('cold-burst', opts(5));
  const cold = t.filter((e) => e.model === 'm11');
  assert.equal(cold.length, 150);
  assert.ok(cold[cold.length - 1].t - cold[0].t <= 10);
  assert.ok(t.indexOf(cold[0]) > 300);
});

test('heavy-user: one user sends 40% of requests, for the top model, in floods; 20 light users', () => {
  const t = generateShape('heavy-user', opts(6));
  const heavy = t.filter((e) => e.user === 'heavy');
  assert.equal(heavy.length, 400);
  assert.ok(heavy.every((e) => e.model === 'm0'));
  assert.equal(new Set(t.filter((e) => e.user !== 'heavy').map((e) => e.user)).size, 20);
  // 40 within 2 s at a time
  assert.ok(heavy[39].t - heavy[0].t <= 2);
});

test('bulk-wave: 25% bulk, non-streamed, three models, within 5 s', () => {
  const t = generateShape('bulk-wave', opts(7));
  const bulk = t.filter((e) => e.priority === 'bulk');
  assert.equal(bulk.length, 250);
  assert.ok(bulk.every((e) => !e.stream && e.user === 'bulk'));
  assert.deepEqual([...new Set(bulk.map((e) => e.model))].sort(), ['m3', 'm4', 'm5']);
  assert.ok(bulk[bulk.length - 1].t - bulk[0].t <= 5);
});
