// Concurrent traces that ask for the same session (same collectors, probes, filters, options and
// kernel scope) share one: one set of programs and links in the kernel, one ring buffer, one
// decode, and every event handed to each trace on it (each applies its own limits). The kernel
// does the work once however many users trace the same thing. A trace whose kernel scope changes
// (its pods came or went) moves to a session of its new scope, unless it is alone on its own,
// which is then rescoped in place.
import type { Event } from '@retrace/events';
import { TracingSession, type SessionOptions } from '../session/session.js';

/** What decides a session (callbacks excluded: the pool owns them). */
export type SessionConfig = Omit<
  SessionOptions,
  'onEvent' | 'onJson' | 'onJsonLines' | 'onRecords' | 'onNote' | 'onRecordError'
>;

export interface SessionUser {
  onEvent(ev: Event): void;
  onNote?(msg: string): void;
}

interface Entry {
  key: string;
  config: SessionConfig;
  session: TracingSession;
  users: Set<SessionUser>;
  /** Notes from starting the session, for users who join later. */
  notes: string[];
}

export interface Acquired {
  session: TracingSession;
  /** The session's start-up notes (collectors skipped and why, and so on). */
  notes: string[];
  /** Others were already on it. */
  shared: boolean;
}

/** Same options, same key: array order kept where it means something, netns set sorted. */
export function sessionKey(c: SessionConfig): string {
  return JSON.stringify({
    collectors: c.collectors ?? ['auto'],
    probes: c.probes ?? [],
    filter: c.filter ?? '',
    metaFilter: c.metaFilter ?? '',
    stack: !!c.stack,
    ringBytes: c.ringBytes ?? 0,
    skbSections: c.skbSections ? [...c.skbSections].sort() : null,
    nftVerdicts: c.nftVerdicts ?? '',
    allowSystemChanges: !!c.allowSystemChanges,
    ovsTrack: !!c.ovsTrack,
    ovsEnrichFlows: !!c.ovsEnrichFlows,
    ovsEnrichRate: c.ovsEnrichFlows ? (c.ovsEnrichRate ?? 0) : 0,
    netns: c.netns ? [...new Set(c.netns)].sort((a, b) => a - b) : null,
  });
}

export class SessionPool {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<SessionUser, Entry>();

  /** Sessions running. */
  get size(): number {
    return this.entries.size;
  }

  /** Joins the running session for `config`, or starts one (throws what TracingSession.start throws). */
  acquire(config: SessionConfig, user: SessionUser): Acquired {
    if (this.byUser.has(user))
      throw new Error('SessionPool.acquire: this user already has a session; release it first');
    const key = sessionKey(config);
    let e = this.entries.get(key);
    const shared = e !== undefined;
    if (e === undefined) e = this.start(key, config);
    e.users.add(user);
    this.byUser.set(user, e);
    return { session: e.session, notes: [...e.notes], shared };
  }

  /** Leaves the session; the last user out stops it (its programs and links go). */
  release(user: SessionUser): void {
    const e = this.byUser.get(user);
    if (!e) return;
    this.byUser.delete(user);
    e.users.delete(user);
    if (e.users.size === 0) {
      this.entries.delete(e.key);
      e.session.stop();
    }
  }

  /**
   * The user's kernel scope is now `netns`: alone on its session, the session is rescoped in place;
   * shared, the user moves to a session of that scope (joined or started before it leaves the old
   * one, so that nothing is missed in between; no event reaches it twice, as events are handed out
   * only between calls). Returns the user's session.
   */
  rescope(user: SessionUser, netns: readonly number[]): TracingSession {
    const e = this.byUser.get(user);
    if (!e) throw new Error('SessionPool.rescope: this user has no session');
    const config = { ...e.config, netns };
    const key = sessionKey(config);
    if (key === e.key) return e.session;
    if (e.users.size === 1 && !this.entries.has(key)) {
      e.session.setNetns(netns);
      this.entries.delete(e.key);
      e.key = key;
      e.config = config;
      this.entries.set(key, e);
      return e.session;
    }
    let next = this.entries.get(key);
    if (next === undefined) next = this.start(key, config);
    next.users.add(user);
    this.release(user);
    this.byUser.set(user, next);
    return next.session;
  }

  private start(key: string, config: SessionConfig): Entry {
    const users = new Set<SessionUser>();
    const notes: string[] = [];
    const session = TracingSession.start({
      ...config,
      onEvent: (ev) => {
        for (const u of users) u.onEvent(ev);
      },
      onNote: (m) => {
        notes.push(m);
        for (const u of users) u.onNote?.(m);
      },
    });
    const e: Entry = { key, config, session, users, notes };
    this.entries.set(key, e);
    return e;
  }
}
