import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostileService } from './harness.js';
import type { Outcome } from './fuzz/client.js';
import { readFixtures, type CrashFixture } from './fuzz/fixtures.js';
import { FUZZ_ENV, isProblem, type FuzzTarget, type TargetName, type TargetSession } from './fuzz/target.js';
import { makeTarget } from './fuzz/targets/index.js';

/**
 * Replays every input the fuzzer kept (test/hostile/fixtures/crashes)
 * against `keysmith serve` as a child: the inputs sent before it, then the
 * input itself. Each must leave the child alive, /healthz answering 200,
 * the ledger unchanged, and get the refusal its route owes it. A fixture
 * whose .json names a `knownFailure` is a TODO until the fix it names is
 * merged (then delete the field): it still runs, and its failure is shown.
 */

const fixtures = await readFixtures();
/** After the last byte, how long a crash may take to show (the abort happens while the request is handled). */
const EXIT_GRACE_MS = 500;

/** One service for the file, started again when a fixture killed it. */
class Services {
  private service: HostileService | undefined;
  private readonly sessions = new Map<TargetName, TargetSession>();
  private readonly targets = new Map<TargetName, FuzzTarget>();

  async session(name: TargetName): Promise<{ service: HostileService; session: TargetSession }> {
    if (this.service === undefined || !this.service.isAlive) {
      await this.stop();
      this.service = await HostileService.start({ env: FUZZ_ENV });
    }
    let target = this.targets.get(name);
    if (target === undefined) {
      target = await makeTarget(name);
      this.targets.set(name, target);
    }
    let session = this.sessions.get(name);
    if (session === undefined) {
      session = await target.open(this.service);
      this.sessions.set(name, session);
    }
    return { service: this.service, session };
  }

  async stop(): Promise<void> {
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
    await this.service?.stop();
    this.service = undefined;
  }
}

async function exitedWithin(service: HostileService, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (service.isAlive && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  return !service.isAlive;
}

/** A CSR that crashed the service had a broken key: it is refused as a bad CSR (400), never certified or passed on to the token check. */
function refusalProblem(fixture: CrashFixture, session: TargetSession, outcome: Outcome): string | undefined {
  if (fixture.record.target === 'csr') {
    return isProblem(outcome, [400])
      ? undefined
      : `expected a 400 problem document, got ${String(outcome.status)} ${outcome.body.subarray(0, 300).toString()}`;
  }
  return session.checkRefusal(fixture.input, outcome);
}

describe('fuzz regressions: every kept crash input is refused and the service lives on', () => {
  const services = new Services();
  after(() => services.stop());

  it('has the fixture directory (inputs the fuzzer kept)', () => {
    // An empty directory is fine: it means no crash is known. The list is printed for the record.
    for (const f of fixtures)
      console.log(
        `fixture ${f.name}: ${f.record.kind} ${f.record.signature}${f.record.knownFailure !== undefined ? ` (known: ${f.record.knownFailure})` : ''}`,
      );
    assert.ok(Array.isArray(fixtures));
  });

  for (const fixture of fixtures) {
    const todo = fixture.record.knownFailure;
    it(
      `${fixture.name} (${fixture.record.kind}: ${fixture.record.signature || 'no message'})`,
      todo !== undefined ? { todo } : {},
      async () => {
        const { service, session } = await services.session(fixture.record.target);
        const before = service.certificateCount();
        for (const earlier of fixture.record.preceding) {
          await session.send(Buffer.from(earlier, 'base64'));
          assert.ok(service.isAlive, `the service died on an input sent before ${fixture.name}\n${service.child.describeOutput()}`);
        }
        const outcome = await session.send(fixture.input);
        assert.equal(
          await exitedWithin(service, EXIT_GRACE_MS),
          false,
          `the service died on ${fixture.name}\n${service.child.describeOutput()}`,
        );
        await service.assertHealthy(`after ${fixture.name}`);
        assert.equal(refusalProblem(fixture, session, outcome), undefined);
        assert.equal(service.certificateCount(), before, 'nothing was written to the ledger');
      },
    );
  }
});
