/** What a coverage-guided fuzz target is, and how it says an invariant broke. */

import type { Random } from '../random.ts';

export class InvariantError extends Error {
  override name = 'InvariantError';
}

export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}

export interface FuzzTarget {
  name: string;
  /** Source files whose coverage this target is about, relative to src/. */
  files: readonly string[];
  /** Inputs longer than this are cut. */
  maxLength: number;
  /** Words the byte mutations insert (header names, magic bytes, close codes). */
  dictionary: readonly Buffer[];
  /** Valid inputs made in code; the committed corpus adds to them. */
  seeds(): Buffer[];
  /**
   * Runs one input. It catches the errors the code under test documents and
   * checks them; anything that escapes (an InvariantError or not) is a finding.
   */
  run(data: Buffer): void | Promise<void>;
  /** A structure-aware mutation, or null to fall back on byte mutations. */
  mutate?(random: Random, data: Buffer, other: Buffer): Buffer | null;
}

export const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
