import { EVENTS, topology } from '@runforge/contracts';
import { NATS_IDENTITIES, natsPermissions, natsServerConfig, type NatsIdentity } from './permissions';

const SERVICES = NATS_IDENTITIES.filter((i) => i !== 'admin');

/** Whether `subject` matches the NATS wildcard `pattern` (`*` one token, `>` the rest). */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** Whether the identity may publish `subject`: allowed and not denied, as nats-server decides. */
function mayPublish(identity: NatsIdentity, subject: string, ns = 't1'): boolean {
  const { publish } = natsPermissions(topology(ns))[identity];
  return publish.allow.some((a) => matches(a, subject)) && !publish.deny.some((d) => matches(d, subject));
}

describe('natsPermissions', () => {
  it('names the namespace’s streams and subjects', () => {
    expect(mayPublish('gateway', 't1.runs.r1.requested')).toBe(true);
    expect(mayPublish('gateway', 'runs.r1.requested')).toBe(false);
    expect(mayPublish('gateway', 'runs.r1.requested', '')).toBe(true);
    expect(mayPublish('engine-worker', '$JS.API.CONSUMER.MSG.NEXT.WORK_t1.engine-high')).toBe(true);
    expect(mayPublish('engine-worker', '$JS.API.CONSUMER.MSG.NEXT.WORK.engine-high', '')).toBe(true);
  });

  it('lets each durable consumer be pulled and acknowledged by its owner alone', () => {
    const owners: Record<string, NatsIdentity> = {
      'WORK_t1.engine-high': 'engine-worker',
      'WORK_t1.engine-normal': 'engine-worker',
      'WORK_t1.trials': 'engine-worker',
      'RUNS_t1.projection': 'projection',
      'SCHEDULES_t1.scheduler': 'scheduler',
    };
    for (const [durable, owner] of Object.entries(owners)) {
      for (const service of SERVICES) {
        const mine = service === owner;
        expect({ durable, service, next: mayPublish(service, `$JS.API.CONSUMER.MSG.NEXT.${durable}`) }).toEqual({
          durable,
          service,
          next: mine,
        });
        expect({ durable, service, ack: mayPublish(service, `$JS.ACK.${durable}.1.2.3.4.5`) }).toEqual({
          durable,
          service,
          ack: mine,
        });
      }
    }
  });

  it('lets no service change, purge or delete a stream; the operator may', () => {
    for (const stream of ['RUNS_t1', 'WORK_t1', 'SCHEDULES_t1']) {
      for (const op of ['CREATE', 'UPDATE', 'PURGE', 'DELETE', 'MSG.DELETE']) {
        const subject = `$JS.API.STREAM.${op}.${stream}`;
        expect(SERVICES.filter((s) => mayPublish(s, subject))).toEqual([]);
        expect(mayPublish('admin', subject)).toBe(true);
      }
    }
  });

  it('lets only the gateway and the scheduler request runs, and every event have a publisher', () => {
    for (const def of EVENTS) {
      const publishers = SERVICES.filter((s) => mayPublish(s, `t1.runs.r1.${def.token}`));
      if (def.type === 'RunRequested' || def.type === 'RunCancellationRequested') {
        expect({ type: def.type, publishers }).toEqual({ type: def.type, publishers: ['gateway', 'scheduler'] });
      } else {
        expect({ type: def.type, publishers }).toEqual({ type: def.type, publishers: ['engine-worker'] });
      }
    }
  });

  it('gives each service its own inbox only', () => {
    const perms = natsPermissions(topology('t1'));
    for (const service of SERVICES) {
      const inboxes = perms[service].subscribe.allow.filter((s) => s.startsWith('_INBOX'));
      expect(inboxes).toEqual([`_INBOX_${service.replace(/-/g, '_')}.>`]);
    }
  });
});

describe('natsServerConfig', () => {
  it('is a nats-server config holding the public keys and no seed', () => {
    const users = Object.fromEntries(NATS_IDENTITIES.map((i, n) => [i, `UPUBLIC${n}`])) as Record<NatsIdentity, string>;
    const text = natsServerConfig({ topology: topology(''), users, port: 4222, storeDir: '/data' });
    const config = JSON.parse(text) as {
      port: number;
      jetstream: { store_dir: string };
      authorization: { users: { nkey: string; permissions: { publish: { allow: string[] } } }[] };
    };
    expect(config.port).toBe(4222);
    expect(config.jetstream).toEqual({ store_dir: '/data' });
    expect(config.authorization.users.map((u) => u.nkey)).toEqual(Object.values(users));
    expect(config.authorization.users[0]?.permissions.publish.allow).toContain('runs.*.requested');
    expect(text).not.toMatch(/"SU[A-Z2-7]{10,}/);
  });
});
