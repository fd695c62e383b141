/**
 * How much zlib runs on the main thread. A small message costs far less in
 * zlib itself than in a round trip to the thread pool (zlib-sync.ts), so
 * small messages are deflated and inflated on the main thread; but nothing
 * else runs meanwhile. One read of a socket can bring hundreds of small
 * messages (libuv reads up to 32 chunks of 64 KiB in one go), and a peer
 * sending 1 KiB messages that each inflate to 1 MiB held the loop for
 * hundreds of milliseconds that way. So the main thread's zlib time is
 * bounded per turn of the event loop, for all connections together and for
 * each one: past either bound, a message waits in line for a later turn's
 * time (runLater), still on the main thread. A connection over its own
 * share leaves the rest of the turn's time to the others, so one peer
 * cannot starve them, and while anything waits in line, messages that come
 * in join its end: the line goes first, so nothing in it waits forever.
 * (Sending such messages to the thread pool instead, as netws did first,
 * cost a round trip of some 200 µs for a job of 20-30 µs, and halved
 * compressed echo at 2 KiB over 64 connections.)
 *
 * The bound is on time measured, not on bytes: zlib's speed differs ten
 * times between deflating JSON and inflating zeros. A turn can go over by
 * at most one job (a job started under the bound runs to its end): 64 KiB
 * deflated, or 1 MiB inflated, about 2 ms each on the benchmark machine.
 * See the README's limits table and SECURITY.md.
 */

/** Main-thread zlib per event-loop turn, all connections together (ms). */
export const TURN_BUDGET_MS = 4;
/** Main-thread zlib per event-loop turn, one connection (ms). */
export const CONNECTION_BUDGET_MS = 1;

/** What a connection's compressor keeps of the budget: its share of the current turn. */
export interface BudgetAccount {
  /** The turn `spentMs` belongs to. */
  budgetTurn: number;
  spentMs: number;
}

let turn = 1;
let turnSpentMs = 0;
/** endTurn() is queued (or running). */
let endScheduled = false;

/**
 * Main-thread zlib jobs that found no time in their turn, first come first
 * served. Each connection has at most one inflate and one deflate in line
 * (its incoming and outgoing queues run one zlib job at a time), so the
 * line is bounded by twice the connections.
 */
interface Waiting {
  account: BudgetAccount;
  job: () => void;
}
let waiting: Waiting[] = [];
let head = 0;

function scheduleEnd(): void {
  if (endScheduled) return;
  endScheduled = true;
  // The check phase follows the poll phase that read the sockets: the turn ends there.
  setImmediate(endTurn);
}

function overShare(account: BudgetAccount): boolean {
  return account.budgetTurn === turn && account.spentMs >= CONNECTION_BUDGET_MS;
}

/**
 * The end of a turn: the line runs on what is left of the turn's time,
 * each connection within its share (a job of one past it keeps its place
 * for the next turn), then the next turn begins. So a turn (the poll phase
 * that read the sockets, then this) runs at most the budget, and the next
 * poll phase finds a fresh budget only once the line is empty. Jobs that a
 * job queues (a connection's next message) join the end of the line.
 */
function endTurn(): void {
  const kept: Waiting[] = [];
  try {
    while (head < waiting.length && turnSpentMs < TURN_BUDGET_MS) {
      const entry = waiting[head++];
      if (overShare(entry.account)) kept.push(entry);
      else entry.job();
    }
  } finally {
    // Also when a job threw (a 'message' listener's error goes on up): the others still run.
    const rest = head === waiting.length ? [] : waiting.slice(head);
    waiting = kept.length === 0 ? rest : kept.concat(rest);
    head = 0;
    turn++;
    turnSpentMs = 0;
    endScheduled = false;
    if (waiting.length > 0) scheduleEnd();
  }
}

/** Whether `account` may run zlib on the main thread now: time is left, and nothing waits in line. */
export function mayRunSync(account: BudgetAccount): boolean {
  return turnSpentMs < TURN_BUDGET_MS && head === waiting.length && !overShare(account);
}

/** Counts `ms` of main-thread zlib against the turn and `account` (null: work for many connections, the turn's only). */
export function spend(account: BudgetAccount | null, ms: number): void {
  scheduleEnd();
  turnSpentMs += ms;
  if (account === null) return;
  if (account.budgetTurn !== turn) {
    account.budgetTurn = turn;
    account.spentMs = 0;
  }
  account.spentMs += ms;
}

/** Runs `job`, zlib work of `account`, on the main thread when a turn has time for it, after the jobs in line before it. */
export function runLater(account: BudgetAccount, job: () => void): void {
  waiting.push({ account, job });
  scheduleEnd();
}
