/**
 * A reporter for node's test runner (`node --test --test-reporter=<this>`):
 * one JSON line per finished test, so frameworks/run.ts can tell which tests
 * passed, failed or never ran, and when the last one finished (a run that
 * does not exit soon after its last test is a hang).
 */
export default async function* jsonLines(source) {
  for await (const event of source) {
    const data = event.data ?? {};
    if (event.type === 'test:pass' || event.type === 'test:fail') {
      const error = data.details?.error;
      const cause = error?.cause ?? error;
      yield `@@test ${JSON.stringify({
        ok: event.type === 'test:pass',
        skipped: Boolean(data.skip) || Boolean(data.todo),
        name: data.name,
        nesting: data.nesting,
        file: data.file,
        line: data.line,
        error: error
          ? `${cause?.name ?? 'Error'}: ${String(cause?.message ?? cause)
              .split('\n')[0]
              .slice(0, 300)}`
          : undefined,
        failureType: error?.failureType,
      })}\n`;
    } else if (event.type === 'test:diagnostic' && /^Error: /.test(String(data.message))) {
      yield `@@diagnostic ${JSON.stringify({ file: data.file, message: String(data.message).slice(0, 400) })}\n`;
    }
  }
}
