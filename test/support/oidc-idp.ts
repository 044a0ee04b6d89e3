import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';

export interface IdpConfig {
  readonly port: number;
  readonly clientId: string;
  readonly redirectUri: string;
  /** The RFC 8707 resource the dashboard asks for; its tokens carry `audience`. */
  readonly resource: string;
  readonly audience: string;
  /** login → the values of the `groups` claim. */
  readonly groups: Record<string, string[]>;
  /** Logins whose access tokens expire after `shortTtlSeconds` (the others' after 10 min). */
  readonly shortLived?: string[];
  readonly shortTtlSeconds?: number;
}

export interface TestIdp {
  readonly issuer: string;
  stop(): Promise<void>;
}

/** Starts test/support/oidc-idp-server.mjs (oidc-provider) and waits until it listens. */
export async function startIdp(config: IdpConfig): Promise<TestIdp> {
  const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, 'oidc-idp-server.mjs')], {
    env: { ...process.env, IDP_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const m = /READY (\S+)/.exec(output);
      if (m?.[1]) resolve(m[1]);
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the test IdP exited (${code}) before listening:\n${output}`)));
  });
  const issuer = await ready;
  return {
    issuer,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
