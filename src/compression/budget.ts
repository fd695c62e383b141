/**
 * How much zlib runs on the main thread. A small message costs far less in
 * zlib itself than in a round trip to the thread pool (zlib-sync.ts), so
 * small messages are deflated and inflated on the main thread; but nothing
 * else runs meanwhile. One read of a socket can bring hundreds of small
 * messages (libuv reads up to 32 chunks of 64 KiB in one go), and a peer
 * sending 1 KiB messages that each inflate to 1 MiB held the loop for
 * hundreds of milliseconds that way. So the main thread's zlib time is
 * bounded per turn of the event loop, for all connections together and for
 * each one: past either bound, messages go to the thread pool (where they
 * also use the other cores) until the next turn. A connection over its own
 * share leaves the rest of the turn's time to the others, so one peer
 * cannot starve them.
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
let resetScheduled = false;

function nextTurn(): void {
  turn++;
  turnSpentMs = 0;
  resetScheduled = false;
}

/** Whether `account` may run zlib on the main thread now. */
export function mayRunSync(account: BudgetAccount): boolean {
  if (turnSpentMs >= TURN_BUDGET_MS) return false;
  return account.budgetTurn !== turn || account.spentMs < CONNECTION_BUDGET_MS;
}

/** Counts `ms` of main-thread zlib against the turn and `account`. */
export function spend(account: BudgetAccount, ms: number): void {
  if (!resetScheduled) {
    resetScheduled = true;
    // The check phase follows the poll phase that read the sockets: the turn ends there.
    setImmediate(nextTurn);
  }
  turnSpentMs += ms;
  if (account.budgetTurn !== turn) {
    account.budgetTurn = turn;
    account.spentMs = 0;
  }
  account.spentMs += ms;
}
