import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import {
  bundleSequence,
  JwtKeyRing,
  jwtKeyStates,
  jwtSchedulePath,
  jwtSigningKeyPath,
  prepareJwtKey,
  type JwtKeySchedule,
} from '../../../src/ca/index.js';
import { isDomainError } from '../../../src/shared/errors.js';
import { FixedClock, tempDir } from './helpers.js';

/** JWT-SVID key rotation on real key files, with a fake clock: prepared, active, retired, dropped. */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);

let dir: ReturnType<typeof tempDir>;

before(() => {
  dir = tempDir('jwt-rotation');
});

after(() => dir.remove());

function dataDir(name: string): string {
  const path = join(dir.path, name);
  mkdirSync(join(path, 'ca'), { recursive: true, mode: 0o700 });
  return path;
}

async function openRing(data: string, clock: FixedClock): Promise<JwtKeyRing> {
  return JwtKeyRing.open({ dataDir: data, clock, retainMs: DAY });
}

async function signAt(ring: JwtKeyRing, clock: FixedClock, ttlSeconds = 300): Promise<string> {
  const iat = Math.floor(clock.now() / 1000);
  return ring.sign({ sub: 'spiffe://keysmith.local/w', aud: ['db'], iat, exp: iat + ttlSeconds });
}

function kidOf(token: string): string {
  return String(decodeProtectedHeader(token).kid);
}

function publishedKids(ring: JwtKeyRing): string[] {
  return ring.publishedJwks().map((jwk) => jwk.kid);
}

/** Verifies with jose against the key of that kid among the published ones, at the fake clock's time. */
async function verifiesAgainstPublished(ring: JwtKeyRing, token: string, clock: FixedClock): Promise<boolean> {
  const jwk = ring.publishedJwks().find((key) => key.kid === kidOf(token));
  if (jwk === undefined) return false;
  const { kty, crv, x, y } = jwk;
  await jwtVerify(token, await importJWK({ kty, crv, x, y }, 'ES256'), { audience: 'db', currentDate: new Date(clock.now()) });
  return true;
}

describe('jwtKeyStates (the schedule read at a time)', () => {
  const schedule: JwtKeySchedule = {
    keys: [
      { kid: 'A'.repeat(43), file: 'jwt-signing-key.pem', preparedAt: 0, activateAt: 0 },
      { kid: 'B'.repeat(43), file: `jwt-${'B'.repeat(43)}.pem`, preparedAt: T0, activateAt: T0 + DAY },
    ],
  };

  it('before activation: the old key active, the new one prepared', () => {
    assert.deepEqual(
      jwtKeyStates(schedule, T0 + DAY - 1, DAY).map((s) => s.phase),
      ['active', 'prepared'],
    );
  });

  it('at activation: the new key active, the old one retired until activation + retainMs', () => {
    const states = jwtKeyStates(schedule, T0 + DAY, DAY);
    assert.deepEqual(
      states.map((s) => s.phase),
      ['retired', 'active'],
    );
    assert.equal(states[0]?.retiredAt, T0 + DAY);
    assert.equal(states[0]?.dropAt, T0 + 2 * DAY);
  });

  it('at retirement + retainMs the old key is dropped', () => {
    assert.deepEqual(
      jwtKeyStates(schedule, T0 + 2 * DAY - 1, DAY).map((s) => s.phase),
      ['retired', 'active'],
    );
    assert.deepEqual(
      jwtKeyStates(schedule, T0 + 2 * DAY, DAY).map((s) => s.phase),
      ['dropped', 'active'],
    );
  });
});

describe('JwtKeyRing and prepareJwtKey', () => {
  it('publishes a prepared key at once without signing with it; after the overlap the new kid signs; the old kid stays published until its last token expired, then is gone', async () => {
    const data = dataDir('lifecycle');
    const clock = new FixedClock(T0);
    const ring = await openRing(data, clock);
    const oldKid = ring.kid;
    assert.equal(bundleSequence([ring], clock.now()), 1, 'no rotation yet: the sequence served before');
    // A token of the longest lifetime, signed just before the rotation.
    const beforeRotation = await signAt(ring, clock, DAY / 1000);
    assert.equal(kidOf(beforeRotation), oldKid);

    clock.advance(HOUR);
    const preparedAt = clock.now();
    const { prepared } = await prepareJwtKey({ dataDir: data, now: preparedAt, activateAfterMs: DAY, retainMs: DAY });
    assert.notEqual(prepared.kid, oldKid);
    assert.equal(prepared.phase, 'prepared');
    assert.equal(prepared.activateAt, preparedAt + DAY);
    assert.equal(await ring.refresh(), true);
    assert.equal(await ring.refresh(), false, 'an unchanged schedule is not read again');

    // Prepared: published, not signing.
    assert.deepEqual(publishedKids(ring), [oldKid, prepared.kid]);
    assert.equal(kidOf(await signAt(ring, clock)), oldKid);
    assert.equal(bundleSequence([ring], clock.now()), preparedAt);
    assert.equal(await verifiesAgainstPublished(ring, beforeRotation, clock), true);

    // One ms before the overlap ends the old key still signs; at its end the new one does.
    clock.time = preparedAt + DAY - 1;
    const lastOldToken = await signAt(ring, clock, DAY / 1000);
    assert.equal(kidOf(lastOldToken), oldKid);
    clock.time = preparedAt + DAY;
    const newToken = await signAt(ring, clock);
    assert.equal(kidOf(newToken), prepared.kid);
    assert.equal(ring.kid, prepared.kid);
    assert.deepEqual(publishedKids(ring), [oldKid, prepared.kid]);
    assert.equal(bundleSequence([ring], clock.now()), preparedAt, 'activation changes no published key');
    assert.equal(await verifiesAgainstPublished(ring, lastOldToken, clock), true);
    assert.equal(await verifiesAgainstPublished(ring, newToken, clock), true);

    // The old key's last token (iat rounded down to the second) expires at activation + 24 h - 1 s: it still verifies just before.
    clock.time = preparedAt + 2 * DAY - 1_001;
    assert.equal(await verifiesAgainstPublished(ring, lastOldToken, clock), true);
    clock.time = preparedAt + 2 * DAY - 1;
    assert.deepEqual(publishedKids(ring), [oldKid, prepared.kid]);
    clock.time = preparedAt + 2 * DAY;
    assert.deepEqual(publishedKids(ring), [prepared.kid]);
    assert.equal(bundleSequence([ring], clock.now()), preparedAt + 2 * DAY, 'dropping a key changes the sequence');
    assert.equal(await verifiesAgainstPublished(ring, lastOldToken, clock), false);
  });

  it('keeps the sequence growing over two rotations and removes the dropped key’s file at the next rotation', async () => {
    const data = dataDir('two-rotations');
    const clock = new FixedClock(T0);
    const ring = await openRing(data, clock);
    const first = ring.kid;
    const sequences = [bundleSequence([ring], clock.now())];
    const second = await prepareJwtKey({ dataDir: data, now: clock.now(), activateAfterMs: HOUR, retainMs: DAY });
    await ring.refresh();
    sequences.push(bundleSequence([ring], clock.now()));
    clock.advance(HOUR + DAY);
    sequences.push(bundleSequence([ring], clock.now()));
    clock.advance(1);
    const third = await prepareJwtKey({ dataDir: data, now: clock.now(), activateAfterMs: HOUR, retainMs: DAY });
    await ring.refresh();
    sequences.push(bundleSequence([ring], clock.now()));
    assert.deepEqual(sequences, [1, T0, T0 + HOUR + DAY, T0 + HOUR + DAY + 1]);
    assert.deepEqual(third.removedFiles, ['jwt-signing-key.pem']);
    assert.equal(existsSync(jwtSigningKeyPath(data)), false);
    assert.deepEqual(publishedKids(ring), [second.prepared.kid, third.prepared.kid]);
    assert.deepEqual(
      third.states.map((s) => [s.kid, s.phase]),
      [
        [second.prepared.kid, 'active'],
        [third.prepared.kid, 'prepared'],
      ],
    );
    assert.notEqual(first, second.prepared.kid);
    // A restart reads the schedule; the first key is not made again.
    const restarted = await openRing(data, clock);
    assert.equal(restarted.kid, second.prepared.kid);
    assert.equal(existsSync(jwtSigningKeyPath(data)), false);
  });

  it('refuses a second rotation while a prepared key waits, and writes nothing', async () => {
    const data = dataDir('twice');
    const clock = new FixedClock(T0);
    await openRing(data, clock);
    const { prepared } = await prepareJwtKey({ dataDir: data, now: clock.now(), activateAfterMs: DAY, retainMs: DAY });
    const schedule = readFileSync(jwtSchedulePath(data), 'utf8');
    const files = readdirSync(join(data, 'ca')).sort();
    await assert.rejects(prepareJwtKey({ dataDir: data, now: clock.now() + 1, activateAfterMs: DAY, retainMs: DAY }), (err: unknown) => {
      assert.ok(isDomainError(err, 'conflict'));
      assert.equal(
        err.detail,
        `the JWT-SVID key ${prepared.kid} is already prepared and starts signing at 2026-01-02T00:00:00.000Z; rotate again after that`,
      );
      return true;
    });
    assert.equal(readFileSync(jwtSchedulePath(data), 'utf8'), schedule);
    assert.deepEqual(readdirSync(join(data, 'ca')).sort(), files);
  });

  it('a rotation that crashed before its schedule was written leaves a key nobody publishes, removed by the next rotation', async () => {
    const data = dataDir('crash');
    const clock = new FixedClock(T0);
    const ring = await openRing(data, clock);
    // The state a crash between "link the key file" and "rename the schedule" leaves: a key file no schedule names.
    const orphan = `jwt-${'Z'.repeat(43)}.pem`;
    writeFileSync(join(data, 'ca', orphan), readFileSync(jwtSigningKeyPath(data)), { mode: 0o600 });
    assert.equal(await ring.refresh(), false);
    assert.deepEqual(publishedKids(ring), [ring.kid]);
    const { removedFiles } = await prepareJwtKey({ dataDir: data, now: clock.now(), activateAfterMs: HOUR, retainMs: DAY });
    assert.deepEqual(removedFiles, [orphan]);
    assert.equal(existsSync(join(data, 'ca', orphan)), false);
  });

  it('a lock left by a crashed rotation is reported with what to do', async () => {
    const data = dataDir('lock');
    const clock = new FixedClock(T0);
    await openRing(data, clock);
    const lock = join(data, 'ca', '.jwt-rotation.lock');
    writeFileSync(lock, '');
    await assert.rejects(prepareJwtKey({ dataDir: data, now: clock.now(), activateAfterMs: HOUR, retainMs: DAY }), (err: unknown) => {
      assert.ok(isDomainError(err, 'conflict'));
      assert.equal(
        err.detail,
        `another JWT-SVID key rotation holds ${lock}; if none is running (it crashed), remove that file and run the rotation again`,
      );
      return true;
    });
    assert.equal(existsSync(jwtSchedulePath(data)), false);
  });

  it('refuses a schedule whose key file holds another key, and keeps the keys it had', async () => {
    const data = dataDir('mismatch');
    const clock = new FixedClock(T0);
    const ring = await openRing(data, clock);
    const kid = ring.kid;
    const { prepared } = await prepareJwtKey({ dataDir: data, now: clock.now(), activateAfterMs: HOUR, retainMs: DAY });
    // Replace the prepared key's file with the first key: its thumbprint no longer matches the schedule's kid.
    const preparedPath = join(data, 'ca', `jwt-${prepared.kid}.pem`);
    writeFileSync(preparedPath, readFileSync(jwtSigningKeyPath(data)));
    await assert.rejects(ring.refresh(), {
      message: `${preparedPath} holds the key ${kid}, but ${jwtSchedulePath(data)} names ${prepared.kid}`,
    });
    assert.deepEqual(publishedKids(ring), [kid]);
    assert.equal(kidOf(await signAt(ring, clock)), kid);
  });

  it('encrypts the new key with the CA passphrase, like the first one', async () => {
    const data = dataDir('encrypted');
    const clock = new FixedClock(T0);
    const ring = await JwtKeyRing.open({ dataDir: data, clock, retainMs: DAY, passphrase: 'correct horse' });
    const { prepared } = await prepareJwtKey({
      dataDir: data,
      now: clock.now(),
      activateAfterMs: HOUR,
      retainMs: DAY,
      passphrase: 'correct horse',
    });
    assert.match(readFileSync(join(data, 'ca', `jwt-${prepared.kid}.pem`), 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    await ring.refresh();
    assert.deepEqual(publishedKids(ring).length, 2);
  });
});
