import { NodeCryptoProvider } from '../../src/tls/crypto/node-provider.js';
import { generateKeyExchange, type KeyExchange, type PrivateKey } from '../../src/tls/crypto/provider.js';

/**
 * What a fixed-input provider hands out, in the order the engine asks:
 * every randomBytes() value, every ephemeral private key (X25519/X448: the
 * key; P-256/384/521: the scalar; FFDHE: the exponent) and every signature
 * with the exact content it must be asked to sign. Hex strings, so a
 * transcript file is readable JSON.
 */
export interface ProviderScript {
  readonly random: readonly string[];
  readonly keyShares: readonly { readonly group: number; readonly privateKey: string }[];
  readonly signatures: readonly { readonly scheme: number; readonly content: string; readonly signature: string }[];
}

/** Thrown when the engine asks for something the script does not say: the replay diverged. */
export class ScriptMismatch extends Error {}

/**
 * A CryptoProvider on fixed inputs (Go's testdata replays and rustls'
 * fixed-random tests do the same): randomness, ephemeral keys and
 * signatures come from a script, every deterministic primitive (hashes,
 * HMAC, HKDF, AEAD, signature verification) is node:crypto's own. A
 * signature is returned only when the content the engine asks to sign is
 * byte-identical to the script's, so a replay also proves what we signed.
 */
export class FixedProvider extends NodeCryptoProvider {
  private randomAt = 0;
  private keyShareAt = 0;
  private signatureAt = 0;

  constructor(private readonly script: ProviderScript) {
    super();
  }

  override randomBytes(length: number): Buffer {
    const next = this.script.random[this.randomAt];
    if (next === undefined) throw new ScriptMismatch(`randomBytes(${length}) past the script's ${this.script.random.length} values`);
    const value = Buffer.from(next, 'hex');
    if (value.length !== length)
      throw new ScriptMismatch(`randomBytes(${length}) but the script's value #${this.randomAt} has ${value.length} bytes`);
    this.randomAt++;
    return value;
  }

  override generateKeyExchange(group: number): KeyExchange {
    const next = this.script.keyShares[this.keyShareAt];
    if (next === undefined) throw new ScriptMismatch(`key share for group ${group} past the script's ${this.script.keyShares.length}`);
    if (next.group !== group)
      throw new ScriptMismatch(`key share #${this.keyShareAt} is for group ${next.group}, engine asked for ${group}`);
    this.keyShareAt++;
    const secret = (length: number): Buffer => {
      const key = Buffer.from(next.privateKey, 'hex');
      if (key.length !== length) throw new ScriptMismatch(`private key of ${key.length} bytes for a ${length}-byte secret`);
      return key;
    };
    return generateKeyExchange(group, secret, secret);
  }

  override sign(scheme: number, _key: PrivateKey, content: Buffer): Buffer {
    const next = this.script.signatures[this.signatureAt];
    if (next === undefined) throw new ScriptMismatch(`signature #${this.signatureAt} past the script`);
    if (next.scheme !== scheme)
      throw new ScriptMismatch(`signature #${this.signatureAt}: scheme 0x${scheme.toString(16)}, script has 0x${next.scheme.toString(16)}`);
    if (!Buffer.from(next.content, 'hex').equals(content)) {
      throw new ScriptMismatch(
        `signature #${this.signatureAt}: the engine signs other content:\n  ${content.toString('hex')}\n  ${next.content}`,
      );
    }
    this.signatureAt++;
    return Buffer.from(next.signature, 'hex');
  }

  /** What the engine has not asked for yet: a finished replay uses the whole script. */
  get unused(): { random: number; keyShares: number; signatures: number } {
    return {
      random: this.script.random.length - this.randomAt,
      keyShares: this.script.keyShares.length - this.keyShareAt,
      signatures: this.script.signatures.length - this.signatureAt,
    };
  }
}

/** A mutable script, as the recorder builds it. */
interface ScriptInProgress {
  random: string[];
  keyShares: { group: number; privateKey: string }[];
  signatures: { scheme: number; content: string; signature: string }[];
}

/**
 * The node:crypto provider, writing down what FixedProvider will need to
 * replay the same run: each random value, each ephemeral private key (drawn
 * here as random bytes so it can be written down; the NIST curves take it
 * as their scalar), each signature with its content.
 */
export class RecordingProvider extends NodeCryptoProvider {
  readonly script: ScriptInProgress = { random: [], keyShares: [], signatures: [] };

  override randomBytes(length: number): Buffer {
    const value = super.randomBytes(length);
    this.script.random.push(value.toString('hex'));
    return value;
  }

  override generateKeyExchange(group: number): KeyExchange {
    let drawn: Buffer | undefined;
    const secret = (length: number): Buffer => {
      // Drawn outside randomBytes so it is not also written down as a random value.
      drawn = Buffer.from(super.randomBytes(length));
      return drawn;
    };
    const exchange = generateKeyExchange(group, secret, secret);
    if (drawn === undefined) throw new Error(`group ${group} drew no private key`);
    // Read after construction: P-521 clears the scalar's top bits in place.
    this.script.keyShares.push({ group, privateKey: drawn.toString('hex') });
    return exchange;
  }

  override sign(scheme: number, key: PrivateKey, content: Buffer): Buffer {
    const signature = super.sign(scheme, key, content);
    this.script.signatures.push({ scheme, content: content.toString('hex'), signature: signature.toString('hex') });
    return signature;
  }
}
