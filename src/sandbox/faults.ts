/**
 * Seeded fault injection for the sandbox emulators. Whether a request fails, and how, depends only on the
 * seed, the recording id and how many times that id was requested before, so a test's faults do not
 * depend on the order in which concurrent workers happen to ask.
 */
import { hash32 } from './catalogue.js';

/** Rates are probabilities in [0, 1]; times in ms; sizes in bytes. */
export interface FaultPlan {
  seed?: number;
  /** Added before every answer of a download endpoint, ms. */
  latencyMs?: number;
  /** Body throughput cap, bytes per second (slows bodies down so tests can interrupt them). */
  bytesPerSecond?: number;
  /** Destroy the connection after `afterBytes` of the body (default: half of it). */
  reset?: { rate: number; afterBytes?: number };
  /** Send a shorter body with a matching Content-Length: a whole-looking truncated file. */
  truncate?: { rate: number; keepBytes?: number };
  /** Answer with this 5xx status (default 500). */
  serverError?: { rate: number; status?: number };
  /** Answer 429 with `Retry-After` seconds. */
  tooMany?: { rate: number; retryAfterS?: number };
  /** Answer 200 with an HTML error page instead of audio. */
  html?: { rate: number };
  /**
   * A vendor's own error answers, by name (e.g. `flowControl` for CC-FS's 0300008, `guidInvalid` for
   * CC-Gateway's 000-003): the injector picks them like the built-in faults, the vendor's emulator answers them.
   */
  errors?: Record<string, { rate: number }>;
  /** Apply a chosen fault to the first N requests of a recording only (default 1; Infinity: always). */
  times?: number;
}

/** The built-in kinds of fault. */
export type BuiltinFault = 'reset' | 'truncate' | 'serverError' | 'tooMany' | 'html';
/** The kinds of fault a request can be given: a built-in one, or the name of a vendor error (`FaultPlan.errors`). */
export type Fault = BuiltinFault | (string & {});

const BEFORE: BuiltinFault[] = ['html', 'tooMany', 'serverError'];
const AFTER: BuiltinFault[] = ['reset', 'truncate'];

/** Counts requests per recording id and decides the fault (if any) for the next one. */
export class FaultInjector {
  private readonly seen = new Map<string, number>();
  constructor(public plan: FaultPlan = {}) {}

  /** Decides the fault for this request of recording `id` (and counts it). */
  next(id: string): Fault | undefined {
    const n = this.seen.get(id) ?? 0;
    this.seen.set(id, n + 1);
    const times = this.plan.times ?? 1;
    if (n >= times) return undefined;
    const rates: [Fault, number][] = [
      ...BEFORE.map((f): [Fault, number] => [f, this.plan[f]?.rate ?? 0]),
      ...Object.entries(this.plan.errors ?? {}).map(([name, e]): [Fault, number] => [name, e.rate]),
      ...AFTER.map((f): [Fault, number] => [f, this.plan[f]?.rate ?? 0]),
    ];
    for (const [fault, rate] of rates) {
      if (rate > 0 && hash32(`${this.plan.seed ?? 1}:${fault}:${id}`) / 4294967296 < rate) return fault;
    }
    return undefined;
  }

  /** How many times recording `id` was requested. */
  count(id: string): number {
    return this.seen.get(id) ?? 0;
  }
}
