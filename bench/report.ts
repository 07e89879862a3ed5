// The results as markdown tables: medians, ratios against the peer measured in the same run, and the verdict.
import { cpus } from 'node:os';
import type { Results, Settings } from './run.js';
import { median, ms, ratio } from './lib.js';
import { medianRun, type ReconcileRun, type Tool } from './reconcile.js';

type Row = readonly string[];

function table(header: Row, rows: readonly Row[]): string {
  const line = (cells: Row): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

function verdict(ok: boolean): string {
  return ok ? 'met' : '**not met**';
}

function startupSection(r: Results): string {
  const s = r.startup;
  if (!s) return '';
  return (
    '### Cold start (whole process)\n\n' +
    table(
      ['command', 'median', 'vs `node -e 0`', 'target ≤ 1.5x'],
      [
        ['`node -e 0`', ms(s.bareNode), '1.00x', ''],
        ['`member-watch --help`', ms(s.help), ratio(s.help, s.bareNode), verdict(s.help <= 1.5 * s.bareNode)],
        ['`member-watch --version`', ms(s.version), ratio(s.version, s.bareNode), verdict(s.version <= 1.5 * s.bareNode)],
      ],
    )
  );
}

function scopeNote(s: Settings): string {
  return s.allNamespaces === undefined ? '' : `, \`-A\` with the members spread over ${s.allNamespaces} namespaces`;
}

function greetingSection(r: Results): string {
  if (r.greeting.length === 0) return '';
  const rows = r.greeting.flatMap((g) => {
    const ours = (tool: string, time: number): string[] => [
      String(g.members),
      tool,
      ms(time),
      ratio(time, g.kubectl),
      ratio(time, g.curl),
      verdict(time < g.kubectl && time <= 1.5 * g.curl),
    ];
    return [
      ours('`watch -o json`', g.json),
      ours('`watch` (text)', g.text),
      [String(g.members), '`kubectl get -w -o name`', ms(g.kubectl), '1.00x', ratio(g.kubectl, g.curl), ''],
      [String(g.members), '`curl` raw watch', ms(g.curl), ratio(g.curl, g.kubectl), '1.00x', ''],
    ];
  });
  return (
    `### Initial greeting (time until the N-th line)${scopeNote(r.settings)}\n\n` +
    table(['N', 'tool', 'median', 'vs kubectl', 'vs curl', 'target < kubectl, ≤ 1.5x curl'], rows)
  );
}

function liveSection(r: Results): string {
  const l = r.live;
  if (!l) return '';
  return (
    `### Live throughput (${l.members} members created at concurrency 32 while \`watch -o json --watch-only\` runs)\n\n` +
    table(
      ['creates/s (API)', 'events/s printed', 'lag after last create', 'per-member lag p50', 'p99', 'target lag < 1 s'],
      [[l.createRate.toFixed(0), l.eventRate.toFixed(0), ms(l.finalLag), ms(l.lagP50), ms(l.lagP99), verdict(l.finalLag < 1000)]],
    )
  );
}

function memorySection(r: Results): string {
  if (r.memory.length === 0) return '';
  const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
  const rows = r.memory.map((m) => [
    String(m.members),
    mib(m.watcher),
    mib(m.baselineMap),
    mib(m.bareNode),
    ratio(m.watcher, m.baselineMap),
    verdict(m.watcher < 2 * m.baselineMap),
  ]);
  return (
    `### Peak RSS (\`/usr/bin/time -f %M\`)${scopeNote(r.settings)}\n\n` +
    table(['N', '`watch --count N -o json`', 'node + Map of N {name, team}', '`node -e 0`', 'ratio', 'target < 2x'], rows)
  );
}

function largeSection(r: Results): string {
  const l = r.large;
  if (!l) return '';
  const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
  const row = (what: string, kib: number): string[] => [
    what,
    mib(kib),
    ratio(kib, l.watch),
    ratio(kib, l.kubectl),
    verdict(kib < 2 * l.watch),
  ];
  return (
    `### Peak RSS over ${l.members} members of ${l.paddingKiB} KiB each (\`/usr/bin/time -f %M\`)\n\n` +
    table(
      ['command', 'peak RSS', 'vs `watch --count N`', 'vs `kubectl get -o name`', 'target < 2x watch'],
      [
        row('`check`', l.check),
        row('`release-finalizers`', l.releaseFinalizers),
        row('`delete-member --all` (one run)', l.deleteAll),
        ['`watch --count N -o json`', mib(l.watch), '1.00x', ratio(l.watch, l.kubectl), ''],
        ['`kubectl get members -o name`', mib(l.kubectl), ratio(l.kubectl, l.watch), '1.00x', ''],
      ],
    )
  );
}

function applySection(r: Results): string {
  const a = r.apply;
  if (!a) return '';
  return (
    `### Apply a file of ${a.members} members (fresh namespace each)\n\n` +
    table(
      ['`member-watch apply-member -f`', '`kubectl apply -f`', 'ratio', 'target ≤ 0.5x'],
      [[ms(a.memberWatch), ms(a.kubectl), ratio(a.memberWatch, a.kubectl), verdict(a.memberWatch <= 0.5 * a.kubectl)]],
    )
  );
}

const TOOL_NAMES: Record<Tool, string> = {
  ours: '`member-watch operator`',
  oursNoFinalizer: '`member-watch operator --no-finalizer`',
  peer: 'peer (client-node informer)',
};

/** The writes the work needs per member: the status and the Event, and with the finalizer its patch. */
const NEEDED_WRITES: Record<Tool, number> = { ours: 3, oursNoFinalizer: 2, peer: 2 };

function writesText(run: ReconcileRun): string {
  return Object.entries(run.writes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([what, n]) => `${what} ${n.toFixed(2)}`)
    .join(', ');
}

function reconcileSection(r: Results): string {
  const rec = r.reconcile;
  if (!rec) return '';
  const peer = medianRun(rec.runs.peer);
  const rows = (Object.keys(TOOL_NAMES) as Tool[]).flatMap((tool) => {
    const run = medianRun(rec.runs[tool]);
    if (run === undefined) return [];
    const isPeer = tool === 'peer';
    const lost = run.lostStatuses + run.lostEvents;
    const met = run.total < (peer?.total ?? Number.NaN) && run.writesPerMember <= NEEDED_WRITES[tool] + 0.01 && lost === 0;
    return [
      [
        TOOL_NAMES[tool],
        ms(run.total),
        ms(run.welcomes),
        ms(run.statuses),
        ms(run.events),
        isPeer ? '1.00x' : ratio(run.total, peer?.total ?? Number.NaN),
        run.requestsPerMember.toFixed(2),
        `${run.writesPerMember.toFixed(2)} (${writesText(run)})`,
        `${run.lostStatuses} / ${run.lostEvents}`,
        `${(run.peakRssKiB / 1024).toFixed(0)} MiB`,
        isPeer ? '' : verdict(met),
      ],
    ];
  });
  const totals = (tool: Tool): string => rec.runs[tool].map((x) => ms(x.total)).join(', ');
  return (
    `### Reconcile throughput (${rec.members} members created at once, 32 creates in flight)\n\n` +
    table(
      [
        'operator',
        'all done',
        'last welcome',
        'last status',
        'last Event',
        'vs peer',
        'requests/member',
        'writes/member',
        'lost statuses / Events',
        'peak RSS',
        'target < peer, writes ≤ needed, none lost',
      ],
      rows,
    ) +
    `\nEach run's total: ours ${totals('ours')}; --no-finalizer ${totals('oursNoFinalizer')}; peer ${totals('peer')}.` +
    (peer?.lossReason ? ` The peer gave up on writes, e.g. \`${peer.lossReason}\`.` : '') +
    '\n'
  );
}

function failoverSection(r: Results): string {
  const f = r.failover;
  if (!f) return '';
  const kill = median(f.kill);
  const term = median(f.term);
  const runs = (values: number[]): string => values.map((v) => ms(v)).join(', ');
  return (
    '### Failover (two replicas, `--leader-elect`, lease 15 s, renew deadline 10 s, retry 2 s)\n\n' +
    table(
      ['the leader gets', 'to the first welcome by the other (median)', 'runs', 'target'],
      [
        ['SIGKILL', ms(kill), runs(f.kill), `≤ 17 s: ${verdict(kill <= 17_000)}`],
        ['SIGTERM', ms(term), runs(f.term), `≤ 3 s: ${verdict(term <= 3000)}`],
      ],
    )
  );
}

function idleSection(r: Results): string {
  const i = r.idle;
  if (!i) return '';
  const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
  const row = (what: string, f: typeof i.leader): string[] => [
    what,
    `${f.cpuMsPerSecond.toFixed(1)} ms/s (${(f.cpuMsPerSecond / 10).toFixed(2)}% of a CPU)`,
    mib(f.rssMean),
    mib(f.rssMax),
  ];
  return (
    `### Idle (${i.members} members, nothing changing, sampled for ${i.seconds} s)\n\n` +
    table(
      ['process', 'CPU', 'RSS mean', 'RSS max'],
      [row('leader', i.leader), row('standby', i.standby), row('peer (no leader election)', i.peer)],
    )
  );
}

export function renderReport(r: Results): string {
  const s = r.settings;
  const header =
    `## member-watch benchmark\n\n` +
    `Medians over ${s.runs} runs (cold start: ${Math.max(10, s.runs)} runs); ${cpus().length} CPUs, Node ${process.version}.\n` +
    `Command: \`npm run bench --${s.argv.map((arg) => ` ${arg}`).join('')}\`\n`;
  const sections = [
    startupSection(r),
    greetingSection(r),
    liveSection(r),
    memorySection(r),
    largeSection(r),
    applySection(r),
    reconcileSection(r),
    failoverSection(r),
    idleSection(r),
  ];
  return [header, ...sections.filter((x) => x !== '')].join('\n');
}
