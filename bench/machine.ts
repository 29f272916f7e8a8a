import { readFileSync } from 'node:fs';

/** The machine's CPU time counters (/proc/stat's first line, in ticks); null off Linux. */
export function machineCpu(): number[] | null {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return null;
  }
}

/**
 * How the machine's CPU time went between two machineCpu() readings, as shares of all of it:
 * busy (user, nice, system, irq, softirq), idle (idle, iowait) and steal. Steal is time the
 * hypervisor gave this VM's vCPUs to others: on a VM, tail latencies are read with it.
 */
export function cpuShares(before: number[] | null, after: number[] | null): { busy: number; idle: number; steal: number } | null {
  if (!before || !after) return null;
  const d = after.map((v, i) => v - (before[i] ?? 0));
  const [user, nice, system, idle, iowait, irq, softirq, steal] = d;
  const total = d.slice(0, 8).reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const share = (v: number): number => Math.round((v / total) * 1000) / 1000;
  return { busy: share(user + nice + system + irq + softirq), idle: share(idle + iowait), steal: share(steal) };
}
