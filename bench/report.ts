/**
 * The bench's HTML report: one self-contained file (inline CSS and SVG, no script, nothing
 * fetched) with the run's facts, charts per target and case, the table, and the ratios.
 */
import { writeFileSync } from 'node:fs';
import { bytesPerDelivery } from './results.js';
import type { CaseResult, GoalResult, Ratio, RunInfo } from './results.js';
import { figure, fmt as num, metText, pct, redisTable } from './tables.js';
import type { TargetName } from './wire.js';

const COLORS: { [K in TargetName]: string } = {
  pollcast: '#2563eb',
  'pollcast-redis': '#1e3a8a',
  'pollcast-redis-1': '#3b5bdb',
  baseline: '#8b95a5',
  nchan: '#e69b00',
  'nchan-multipart': '#16a34a',
  'pollcast-sse': '#9333ea',
  'pollcast-ws': '#db2777',
  'pollcast-poll': '#0891b2',
  'pollcast-jwt': '#4f46e5',
};

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** Round tick values covering 0..max. */
function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 0.999 && out.length < 20; v += step) out.push(v);
  return out;
}

const short = (value: number): string => {
  if (value >= 1e6) return `${num(value / 1e6, value >= 1e7 || value % 1e6 === 0 ? 0 : 1)}M`;
  if (value >= 1e3) return `${num(value / 1e3, value >= 1e4 || value % 1e3 === 0 ? 0 : 1)}k`;
  return num(value, value < 10 && value % 1 ? 1 : 0);
};

interface Bars {
  title: string;
  note: string;
  groups: string[];
  targets: TargetName[];
  value: (group: string, target: TargetName) => number | undefined;
  label: (value: number) => string;
  /** Logarithmic value axis, for figures spanning orders of magnitude. */
  log?: boolean;
}

function barChart(spec: Bars): string {
  const width = 600,
    height = 270,
    left = 56,
    right = 12,
    top = 38,
    bottom = 42;
  const plotW = width - left - right,
    plotH = height - top - bottom;
  const values = spec.groups.flatMap((g) => spec.targets.map((t) => spec.value(g, t) ?? 0)).filter(Number.isFinite);
  let axis: number[];
  let y: (v: number) => number;
  if (spec.log) {
    const positive = values.filter((v) => v > 0);
    const lo = 10 ** Math.floor(Math.log10(Math.min(...positive, 1)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...positive, lo * 10)));
    axis = [];
    for (let v = lo; v <= hi * 1.0001 && axis.length < 12; v *= 10) axis.push(v);
    const span = Math.log10(hi) - Math.log10(lo);
    y = (v: number) => top + plotH - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span) * plotH;
  } else {
    axis = ticks(Math.max(...values, 0));
    const max = axis[axis.length - 1]!;
    y = (v: number) => top + plotH - (v / max) * plotH;
  }
  const base = spec.log ? y(axis[0]!) : y(0);
  const groupW = plotW / spec.groups.length;
  const barW = Math.min(34, (groupW * 0.8) / spec.targets.length);
  const parts: string[] = [];
  parts.push(`<text x="${left}" y="18" class="title">${escapeHtml(spec.title)}</text>`);
  for (const v of axis) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" class="tick" text-anchor="end">${short(v)}</text>`);
  }
  spec.groups.forEach((group, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * spec.targets.length) / 2;
    spec.targets.forEach((target, ti) => {
      const v = spec.value(group, target);
      const x = x0 + ti * barW;
      if (v === undefined || !Number.isFinite(v)) {
        parts.push(`<text x="${x + barW / 2}" y="${base - 4}" class="val" text-anchor="middle">–</text>`);
        return;
      }
      const h = Math.max(v > 0 ? 1 : 0, base - y(v));
      parts.push(
        `<rect x="${x + 1}" y="${base - h}" width="${barW - 2}" height="${h}" fill="${COLORS[target]}"><title>${escapeHtml(`${target}: ${spec.label(v)}`)}</title></rect>`,
      );
      parts.push(`<text x="${x + barW / 2}" y="${base - h - 4}" class="val" text-anchor="middle">${escapeHtml(spec.label(v))}</text>`);
    });
    parts.push(
      `<text x="${left + gi * groupW + groupW / 2}" y="${height - bottom + 17}" class="tick" text-anchor="middle">${escapeHtml(group)}</text>`,
    );
  });
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${base}" y2="${base}" class="axis"/>`);
  parts.push(`<text x="${left}" y="${height - 6}" class="note">${escapeHtml(spec.note)}</text>`);
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${parts.join('')}</svg>`;
}

/**
 * Latency distribution of one case: x is the latency (log scale), y the share of deliveries at
 * or below it, stretched towards the tail (0, 50 %, 90 %, 99 %, 99.9 % equally spaced above 50 %).
 */
function cdfChart(caseName: string, records: CaseResult[]): string {
  const width = 600,
    height = 270,
    left = 50,
    right = 26,
    top = 38,
    bottom = 42;
  const plotW = width - left - right,
    plotH = height - top - bottom;
  const withData = records.filter((r) => r.latencyCdf.length > 0);
  const all = withData.flatMap((r) => r.latencyCdf.map(([ms]) => ms)).filter((ms) => ms > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(...all, 1))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, lo * 10)));
  // Piecewise: the body of the distribution and its tail both get room.
  const KNOTS: [number, number][] = [
    [0, 0],
    [0.5, 0.3],
    [0.9, 0.6],
    [0.99, 0.8],
    [0.999, 1],
  ];
  const scale = (f: number): number => {
    for (let i = 1; i < KNOTS.length; i++) {
      const [f1, y1] = KNOTS[i]!;
      const [f0, y0] = KNOTS[i - 1]!;
      if (f <= f1) return y0 + ((f - f0) / (f1 - f0)) * (y1 - y0);
    }
    return 1;
  };
  const x = (ms: number) => left + ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const y = (f: number) => top + plotH - scale(f) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${left}" y="18" class="title">${escapeHtml(caseName)}: latency distribution</text>`);
  for (const [f, label] of [
    [0, '0%'],
    [0.5, '50%'],
    [0.9, '90%'],
    [0.99, '99%'],
    [0.999, '99.9%'],
  ] as const) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(f)}" y2="${y(f)}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${y(f) + 4}" class="tick" text-anchor="end">${label}</text>`);
  }
  for (let decade = lo; decade <= hi * 1.0001; decade *= 10) {
    parts.push(`<line x1="${x(decade)}" x2="${x(decade)}" y1="${top}" y2="${top + plotH}" class="grid"/>`);
    const label = decade >= 1000 ? `${decade / 1000} s` : `${decade >= 1 ? decade : decade.toPrecision(1)} ms`;
    parts.push(`<text x="${x(decade)}" y="${top + plotH + 16}" class="tick" text-anchor="middle">${label}</text>`);
  }
  for (const r of withData) {
    const points = [[r.latencyCdf[0]![0], 0] as [number, number], ...r.latencyCdf];
    const d = points.map(([ms, f], i) => `${i === 0 ? 'M' : 'L'}${x(ms).toFixed(1)},${y(f).toFixed(1)}`).join('');
    parts.push(
      `<path d="${d}" fill="none" stroke="${COLORS[r.target]}" stroke-width="2" stroke-linejoin="round"><title>${escapeHtml(r.target)}</title></path>`,
    );
  }
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(0)}" y2="${y(0)}" class="axis"/>`);
  parts.push(
    `<text x="${left}" y="${height - 6}" class="note">share of deliveries at or below a latency (publish sent → received); only messages that arrived</text>`,
  );
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${parts.join('')}</svg>`;
}

function legend(targets: TargetName[]): string {
  return `<div class="legend">${targets.map((t) => `<span><i style="background:${COLORS[t]}"></i>${escapeHtml(t)}</span>`).join('')}</div>`;
}

function resultTable(records: CaseResult[]): string {
  const head = [
    'case',
    'target',
    'rep',
    'published/s',
    'deliveries/s',
    'complete min / median',
    'dup',
    'out of order',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'server CPU s',
    'µs / delivery',
    'server peak RSS MB',
    'KB / held poll',
    'fan-out ms (rounds)',
    'bytes read / delivery',
    'generator cores',
  ];
  const rows = records.map((r) => [
    r.case,
    r.target,
    String(r.repetition),
    r.scenario === 'C' ? '' : num(r.publishedPerSecond),
    r.scenario === 'C' ? '' : num(r.deliveriesPerSecond),
    `${pct(r.completeness.min)} / ${pct(r.completeness.median)}`,
    num(r.duplicates),
    num(r.outOfOrder),
    num(r.latencyMs.p50, 1),
    num(r.latencyMs.p90, 1),
    num(r.latencyMs.p99, 1),
    num(r.latencyMs.max, 1),
    num(r.serverCpuSeconds, 2),
    num(r.cpuUsPerDelivery, 1),
    num(r.serverPeakRssBytes / 1048576, 1),
    r.bytesPerHeldPoll === null ? '' : num(r.bytesPerHeldPoll / 1024, 1),
    r.fanoutMs.map((ms) => num(ms)).join(' · '),
    num(bytesPerDelivery(r)),
    `${num(r.generatorCores, 2)}${r.generatorSaturated ? ' <b class="sat" title="the load generator used ≥ 0.9 core">SAT</b>' : ''}`,
  ]);
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row, i) => {
      const target = records[i]!.target;
      return `<tr class="${target === 'pollcast' ? 'us' : ''}">${row
        .map((cell, c) =>
          c === 1
            ? `<td><i class="dot" style="background:${COLORS[target]}"></i>${escapeHtml(cell)}</td>`
            : c === row.length - 1
              ? `<td>${cell}</td>`
              : `<td>${escapeHtml(cell)}</td>`,
        )
        .join('')}</tr>`;
    })
    .join('')}</tbody></table>`;
}

function ratioTable(list: Ratio[], against: TargetName): string {
  const rows = list.filter((r) => r.against === against);
  if (rows.length === 0) return `<p class="muted">No ${escapeHtml(against)} in this run.</p>`;
  const x = (v: number, higherIsBetter: boolean) => {
    if (!Number.isFinite(v)) return '<td class="muted">–</td>';
    const good = higherIsBetter ? v >= 1 : v <= 1;
    return `<td class="${good ? 'good' : 'bad'}">${v.toFixed(2)}×</td>`;
  };
  return `<table class="ratios"><thead><tr><th>case</th><th>target</th><th>deliveries/s</th><th>complete (median)</th><th>p99 latency</th><th>µs / delivery</th><th>KB / held poll</th><th>fan-out time</th></tr></thead><tbody>${rows
    .map(
      (r) =>
        `<tr class="${r.target === 'pollcast' ? 'us' : ''}"><td>${escapeHtml(r.case)}</td><td><i class="dot" style="background:${COLORS[r.target]}"></i>${escapeHtml(r.target)}</td>${x(r.deliveriesPerSecond, true)}${x(r.completenessMedian, true)}${x(r.p99, false)}${x(r.cpuUsPerDelivery, false)}${x(r.bytesPerHeldPoll, false)}${x(r.fanoutMs, false)}</tr>`,
    )
    .join('')}</tbody></table>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;margin:24px auto;max-width:1300px;padding:0 16px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.muted,.meta{color:#6b7280}.meta{font-size:13px;margin:0 0 12px}
.warn{background:#fff7ed;border:1px solid #fed7aa;padding:8px 12px;border-radius:6px;font-size:13px}
.grid2{display:grid;grid-template-columns:repeat(2,600px);gap:12px 24px}
svg{background:#fff;font-family:inherit}
svg .title{font-size:14px;font-weight:600;fill:#111827}svg .tick{font-size:11px;fill:#6b7280}svg .val{font-size:10px;fill:#374151}
svg .note{font-size:11px;fill:#6b7280}svg .grid{stroke:#eef0f3}svg .axis{stroke:#9ca3af}
.legend{display:flex;gap:18px;margin:6px 0 4px;font-size:13px}.legend i,.dot{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}th,td{border:1px solid #e5e7eb;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f9fafb;font-weight:600;white-space:normal;vertical-align:bottom}td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}
tr.us td{background:#eff6ff}.good{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:600}.sat{color:#b91c1c}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:10px 0}.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;min-width:250px}
.card b{font-size:20px;display:block}.card span{font-size:12px;color:#6b7280}
`;

function cards(records: CaseResult[]): string {
  const find = (c: string, t: TargetName) => records.find((r) => r.case === c && r.target === t);
  const out: string[] = [];
  for (const r of records.filter((x) => x.target === 'pollcast')) {
    const ref = find(r.case, 'nchan-multipart');
    if (r.scenario === 'C') {
      const kb = (r.bytesPerHeldPoll ?? NaN) / 1024;
      const refKb = ref ? (ref.bytesPerHeldPoll ?? NaN) / 1024 : NaN;
      const fan = [...r.fanoutMs].sort((a, b) => a - b)[r.fanoutMs.length >> 1] ?? NaN;
      const refFan = ref ? ([...ref.fanoutMs].sort((a, b) => a - b)[ref.fanoutMs.length >> 1] ?? NaN) : NaN;
      out.push(
        `<div class="card"><span>${escapeHtml(r.case)} · pollcast</span><b>${num(kb, 1)} KB / poll · ${num(fan)} ms</b><span>nchan-multipart: ${num(refKb, 1)} KB · ${num(refFan)} ms to reach all</span></div>`,
      );
    } else {
      out.push(
        `<div class="card"><span>${escapeHtml(r.case)} · pollcast</span><b>${short(r.deliveriesPerSecond)}/s · p99 ${num(r.latencyMs.p99)} ms · ${pct(r.completeness.min)}</b><span>${num(r.cpuUsPerDelivery, 1)} µs CPU / delivery${ref ? ` · nchan-multipart: ${short(ref.deliveriesPerSecond)}/s, p99 ${num(ref.latencyMs.p99)} ms, ${num(ref.cpuUsPerDelivery, 1)} µs` : ''}</span></div>`,
      );
    }
  }
  return out.length ? `<div class="cards">${out.join('')}</div>` : '';
}

/** Issue 13's targets: each as a ratio against its reference in this run, and whether it was met. */
function goalTable(goals: GoalResult[]): string {
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
  return `<table class="ratios"><thead><tr><th>where</th><th>case</th><th>value</th><th>reference</th><th>vs</th><th>ratio (median)</th><th>spread over repetitions</th><th>target</th><th>target met</th></tr></thead><tbody>${goals
    .map(
      (g) =>
        `<tr><td>${escapeHtml(g.goal.where)}</td><td>${escapeHtml(g.case)}</td><td>${escapeHtml(figure(g.value, g.goal.figure))}</td><td>${escapeHtml(figure(g.reference, g.goal.figure))}</td><td>${escapeHtml(g.goal.against)}</td><td>${x(g.ratio)}</td><td>${g.repetitions > 1 ? `${x(g.low)}–${x(g.high)}` : '–'}</td><td>${escapeHtml(`${g.goal.sense} ${g.goal.limit.toFixed(1)}×`)}</td><td class="${g.met === undefined ? 'muted' : g.met ? 'good' : 'bad'}">${metText(g.met)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

export function writeReport(path: string, info: RunInfo, records: CaseResult[], ratioList: Ratio[], goals: GoalResult[]): void {
  const targets = [...new Set(records.map((r) => r.target))];
  const caseNames = [...new Set(records.map((r) => r.case))];
  const flowCases = [...new Set(records.filter((r) => r.scenario !== 'C').map((r) => r.case))];
  const heldCases = [...new Set(records.filter((r) => r.scenario === 'C').map((r) => r.case))];
  const value = (field: (r: CaseResult) => number | null) => (c: string, t: TargetName) => {
    const r = records.find((x) => x.case === c && x.target === t);
    const v = r ? field(r) : null;
    return v === null ? undefined : v;
  };
  const charts: string[] = [];
  if (flowCases.length) {
    charts.push(
      barChart({
        title: 'Deliveries per second (higher is better)',
        note: 'messages received by all subscribers together, first publish to last delivery',
        groups: flowCases,
        targets,
        value: value((r) => r.deliveriesPerSecond),
        label: short,
      }),
    );
    charts.push(
      barChart({
        title: 'Completeness: median subscriber (higher is better)',
        note: 'share of the published messages each subscriber received',
        groups: flowCases,
        targets,
        value: value((r) => r.completeness.median * 100),
        label: (v) => `${num(v, v >= 99.95 || v < 10 ? 0 : 1)}%`,
      }),
    );
    charts.push(
      barChart({
        title: 'Server CPU per delivery, µs (lower is better)',
        note: 'user + system CPU of the server process(es), /proc/<pid>/stat',
        groups: flowCases,
        targets,
        value: value((r) => r.cpuUsPerDelivery),
        label: (v) => num(v, v < 10 ? 1 : 0),
      }),
    );
    charts.push(
      barChart({
        title: 'p99 latency, ms (lower is better; log scale)',
        note: 'receive time − publish send time',
        groups: flowCases,
        targets,
        value: value((r) => r.latencyMs.p99),
        label: (v) => num(v, v < 10 ? 1 : 0),
        log: true,
      }),
    );
  }
  if (heldCases.length) {
    charts.push(
      barChart({
        title: 'Server memory per held poll, KB (lower is better)',
        note: '(RSS with N polls parked − RSS idle) / N',
        groups: heldCases,
        targets,
        value: value((r) => (r.bytesPerHeldPoll === null ? null : r.bytesPerHeldPoll / 1024)),
        label: (v) => num(v, 1),
      }),
    );
    charts.push(
      barChart({
        title: 'One publish reaching every held poll, ms (lower is better)',
        note: 'median of the rounds: publish send → last subscriber has it',
        groups: heldCases,
        targets,
        value: value((r) => {
          const s = [...r.fanoutMs].sort((a, b) => a - b);
          return s.length ? s[s.length >> 1]! : null;
        }),
        label: (v) => num(v),
      }),
    );
  }
  const cdfs = caseNames.map((c) =>
    cdfChart(
      c,
      records.filter((r) => r.case === c),
    ),
  );
  const notes = records
    .filter((r) => r.notes.length)
    .map((r) => `<li>${escapeHtml(r.case)} · ${escapeHtml(r.target)}: ${escapeHtml(r.notes.join('; '))}</li>`);
  const saturated = records.filter((r) => r.generatorSaturated);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pollcast bench ${escapeHtml(info.run)}</title><style>${CSS}</style></head><body>
<h1>pollcast benchmark</h1>
<p class="meta">Run ${escapeHtml(info.run)}${info.quick ? ' (quick)' : ''} · ${info.repetitions} repetition(s) · Node ${escapeHtml(info.node)} · ${info.cores} cores, ${escapeHtml(info.cpuModel)} · load at start ${info.loadAverage.map((l) => l.toFixed(2)).join(' ')} · ${info.generatorProcesses} subscriber processes · ${info.messageBytes}-byte messages · all traffic on 127.0.0.0/8</p>
<p class="warn">A shared 2-core machine: server and load generator compete for the same cores, and other work may run beside them. Compare targets within one run (the ratios below), not absolute numbers across runs.${saturated.length ? ` The load generator was saturated (≥ 0.9 core) in ${saturated.length} case(s): there the server may be capable of more.` : ''}</p>
${cards(records)}
<h2>Issue 13's targets</h2>
${goalTable(goals)}
<p class="muted">Each figure is the target's median over ${info.repetitions} interleaved repetition(s); the ratio is the median of the ratios taken within each repetition. – : the target or its reference was not run.</p>
${legend(targets)}
<h2>Throughput, completeness, cost</h2>
<div class="grid2">${charts.join('')}</div>
<h2>Latency distributions</h2>
${legend(targets)}
<div class="grid2">${cdfs.join('')}</div>
<h2>All results</h2>
${resultTable(records)}
${notes.length ? `<p class="muted">Notes:</p><ul class="muted">${notes.join('')}</ul>` : ''}
${records.some((r) => r.redis !== null) ? `<h2>Redis itself</h2><p class="muted">INFO before and after each case: Redis's CPU per publish (less its idle rate), the part spent in pollcast's commands, round trips per publish and per answer, the instances' own CPU per delivery.</p><pre>${escapeHtml(redisTable(records))}</pre>` : ''}
<h2>Ratios against nchan-multipart</h2>
${ratioTable(ratioList, 'nchan-multipart')}
<h2>Ratios against the baseline (the classic demo)</h2>
${ratioTable(ratioList, 'baseline')}
<h2>pollcast's other transports against its long poll</h2>
${ratioTable(ratioList, 'pollcast')}
<p class="muted">Green: at least as good as the reference; red: worse. pollcast runs as <code>dist/cli.js ${escapeHtml(info.pollcastArgs.join(' '))}</code>; nchan as nginx with one worker, <code>bench/nchan.conf</code>.</p>
</body></html>
`;
  writeFileSync(path, html);
}
