/**
 * Headless Chromium driven over the DevTools protocol, with the netws client
 * as the DevTools WebSocket client (a small interop test in itself). Every
 * wait is bounded, and the browser is killed however the run ends.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from '../../src/index.ts';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const LAUNCH_TIMEOUT = 20_000;
const COMMAND_TIMEOUT = 20_000;

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--remote-debugging-port=0',
];

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const running = new Set<ChildProcess>();
// Whatever happens (a failed assertion, an exception, Ctrl+C), no browser outlives the run.
process.on('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

/** Chromium starts renderer and helper processes: signal its whole process group (it leads one). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Already gone.
  }
}

function removeProfile(profile: string): void {
  try {
    // Helper processes may still be writing for a moment after the browser exits.
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch (error) {
    console.warn(`could not remove ${profile}: ${(error as Error).message}`);
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => process.exit(130));
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export class Chromium {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
    private readonly devtools: WebSocket,
  ) {
    devtools.onmessage = (event) => {
      const message = JSON.parse(event.data as string) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      const entry = message.id === undefined ? undefined : this.pending.get(message.id);
      if (entry === undefined) return;
      this.pending.delete(message.id!);
      clearTimeout(entry.timer);
      if (message.error) entry.reject(new Error(message.error.message));
      else entry.resolve(message.result ?? {});
    };
    devtools.onclose = () => {
      for (const entry of this.pending.values()) {
        clearTimeout(entry.timer);
        entry.reject(new Error('DevTools connection closed'));
      }
      this.pending.clear();
    };
  }

  /** Starts Chromium with a fresh profile (and `extraFlags`) and connects to its DevTools WebSocket. */
  static async launch(extraFlags: readonly string[] = []): Promise<Chromium> {
    const profile = mkdtempSync(path.join(tmpdir(), 'netws-chromium-'));
    const child = spawn(CHROMIUM, [...FLAGS, ...extraFlags, `--user-data-dir=${profile}`, 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    running.add(child);
    child.once('exit', () => running.delete(child));
    try {
      const url = await withTimeout(
        new Promise<string>((resolve, reject) => {
          let stderr = '';
          child.stderr!.on('data', (chunk: Buffer) => {
            stderr += chunk.toString();
            const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
            if (match) resolve(match[1]);
          });
          child.once('error', reject);
          child.once('exit', (code) => reject(new Error(`Chromium exited (${code}) before DevTools was up:\n${stderr}`)));
        }),
        LAUNCH_TIMEOUT,
        'Chromium DevTools endpoint',
      );
      const devtools = new WebSocket(url, { maxPayload: 256 * 1024 * 1024 });
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          devtools.onopen = () => resolve();
          devtools.onerror = (event) => reject(event.error as Error);
        }),
        LAUNCH_TIMEOUT,
        'DevTools WebSocket open',
      );
      return new Chromium(child, profile, devtools);
    } catch (error) {
      killGroup(child, 'SIGKILL');
      removeProfile(profile);
      throw error;
    }
  }

  get version(): Promise<string> {
    return this.send('Browser.getVersion').then((result) => String(result.product));
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`DevTools ${method} timed out after ${COMMAND_TIMEOUT} ms`));
      }, COMMAND_TIMEOUT);
      this.pending.set(id, { resolve, reject, timer });
      this.devtools.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  /** Opens a tab on `url` and waits until it has loaded. */
  async open(url: string): Promise<Tab> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const tab = new Tab(this, String(targetId), String(sessionId));
    await tab.navigate(url);
    return tab;
  }

  /** Closes the DevTools connection and kills the browser; safe to call twice. */
  async close(): Promise<void> {
    this.devtools.terminate();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      killGroup(this.child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(this.child, 'SIGKILL'), 3000);
      await withTimeout(exited, 10_000, 'Chromium exit').finally(() => clearTimeout(timer));
    }
    // Helpers that outlived the browser process go too.
    killGroup(this.child, 'SIGKILL');
    removeProfile(this.profile);
  }
}

export class Tab {
  constructor(
    private readonly browser: Chromium,
    readonly targetId: string,
    private readonly sessionId: string,
  ) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Evaluates `expression` in the page (awaiting a promise) and returns its JSON value. */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const result = (await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as {
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (result.exceptionDetails) {
      const details = result.exceptionDetails;
      throw new Error(`in the page: ${details.exception?.description ?? details.text}`);
    }
    return result.result.value as T;
  }

  async navigate(url: string): Promise<void> {
    await this.send('Page.navigate', { url });
    await this.waitUntil(
      `document.readyState === 'complete' && location.href.startsWith(${JSON.stringify(url.split('?')[0])})`,
      'page load',
    );
  }

  /** Polls `expression` in the page until it is truthy. */
  async waitUntil(expression: string, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      let value: unknown = false;
      try {
        value = await this.evaluate(expression);
      } catch {
        // The page may be navigating; try again until the deadline.
      }
      if (value) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (${expression})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A phone-sized viewport (the screenshot shows the page as on a phone). */
  async emulatePhone(): Promise<void> {
    await this.send('Emulation.setDeviceMetricsOverride', { width: 390, height: 560, deviceScaleFactor: 2, mobile: true });
  }

  async screenshot(file: string): Promise<void> {
    // A background tab paints lazily; capturing it can wait seconds for a frame.
    await this.send('Page.bringToFront');
    const { data } = await this.send('Page.captureScreenshot', { format: 'png' });
    writeFileSync(file, Buffer.from(String(data), 'base64'));
  }
}
