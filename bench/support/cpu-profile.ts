/**
 * CPU profile shares for `npm run bench:runtime`: samples a piece of work with the V8 sampling profiler
 * (node:inspector, in this process) and attributes each sample to a part of the stack by the file of the frame it
 * was taken in. A sample in a builtin without a file (JSON.parse, a Map method) counts for the nearest caller
 * that has one; idle samples are left out.
 */
import { Session } from 'node:inspector/promises';

/** The parts samples are attributed to. */
export const PROFILE_PARTS = ['awsSdk', 'fetchUndici', 'gc', 'project', 'powertools', 'zod', 'latencyModel', 'other'] as const;
/** One part of {@link PROFILE_PARTS}. */
export type ProfilePart = (typeof PROFILE_PARTS)[number];

/** Share of the non-idle samples per part (0-1), and the functions that took the most samples. */
export interface ProfileShares {
  readonly samples: number;
  readonly shares: Record<ProfilePart, number>;
  /** The heaviest self-time functions: `part function (file)` → share. */
  readonly top: { frame: string; share: number }[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Runs `work` under the sampling profiler and returns the shares. */
export async function profileShares(work: () => Promise<void>, samplingIntervalMicros = 200): Promise<ProfileShares> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: samplingIntervalMicros });
    await session.post('Profiler.start');
    let stopped: { profile: { nodes: ProfileNode[]; samples: number[] } };
    try {
      await work();
    } finally {
      stopped = (await session.post('Profiler.stop')) as typeof stopped;
    }
    return sharesOf(stopped.profile.nodes, stopped.profile.samples);
  } finally {
    session.disconnect();
  }
}

/** Attributes every sample by its frame's file (see the file comment). */
export function sharesOf(nodes: readonly ProfileNode[], samples: readonly number[]): ProfileShares {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const counts = Object.fromEntries(PROFILE_PARTS.map((part) => [part, 0])) as Record<ProfilePart, number>;
  const frames = new Map<string, number>();
  let total = 0;
  for (const id of samples) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    let owner: ProfileNode = node;
    // A builtin has no file: the sample belongs to whoever called it.
    while (!owner.callFrame.url && !owner.callFrame.functionName.startsWith('(') && parentOf.has(owner.id)) {
      const parent = byId.get(parentOf.get(owner.id) as number);
      if (!parent || parent.callFrame.functionName === '(root)') break;
      owner = parent;
    }
    const part = partOf(owner.callFrame.url, owner.callFrame.functionName);
    counts[part] += 1;
    total += 1;
    const frame = `${part} ${node.callFrame.functionName || '(anonymous)'} (${shortUrl(owner.callFrame.url)})`;
    frames.set(frame, (frames.get(frame) ?? 0) + 1);
  }
  const share = (count: number) => (total === 0 ? 0 : Math.round((count / total) * 1000) / 1000);
  return {
    samples: total,
    shares: Object.fromEntries(PROFILE_PARTS.map((part) => [part, share(counts[part])])) as Record<ProfilePart, number>,
    top: [...frames.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([frame, count]) => ({ frame, share: share(count) })),
  };
}

/** The part a frame of `url` belongs to. */
export function partOf(url: string, functionName = ''): ProfilePart {
  if (functionName === '(garbage collector)') return 'gc';
  if (url.includes('/node_modules/@aws-sdk/') || url.includes('/node_modules/@smithy/') || url.includes('/node_modules/@aws-crypto/')) return 'awsSdk';
  if (url.includes('undici') || url.includes('node:internal/deps/undici')) return 'fetchUndici';
  if (url.includes('/node_modules/@aws-lambda-powertools/')) return 'powertools';
  if (url.includes('/node_modules/zod/')) return 'zod';
  if (url.includes('/bench/support/dynamodb-latency-model')) return 'latencyModel';
  if (!url.includes('/node_modules/') && /\/(functions|local)\//.test(url)) return 'project';
  return 'other';
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  return url.replace(/^file:\/\/.*?\/(functions|local|bench)\//, '$1/');
}
