import type { FuzzTarget, TargetName } from '../target.js';
import { ClientHelloTarget } from './clienthello.js';
import { CsrTarget } from './csr.js';
import { HttpTarget } from './http.js';
import { JwkTarget } from './jwk.js';
import { OcspTarget } from './ocsp.js';

export async function makeTarget(name: TargetName): Promise<FuzzTarget> {
  switch (name) {
    case 'csr':
      return CsrTarget.create();
    case 'jwk':
      return JwkTarget.create();
    case 'ocsp':
      return new OcspTarget();
    case 'clienthello':
      return new ClientHelloTarget();
    case 'http':
      return new HttpTarget();
  }
}
