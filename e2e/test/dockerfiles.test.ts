// The Dockerfiles (docker/): one per image, each copying files that exist and running the build
// steps script that `docker/build-steps.sh` runs without Docker.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { ROOT } from '../src/chart/renders.js';

describe('Dockerfiles', () => {
  const DOCKER = join(ROOT, 'docker');
  const dockerfiles = existsSync(DOCKER) ? readdirSync(DOCKER).filter((f) => f.endsWith('.Dockerfile')) : [];

  test('there is one for the agent and one for the operator', () => {
    expect(dockerfiles.sort()).toEqual(['agent.Dockerfile', 'operator.Dockerfile']);
  });

  test.each(['agent.Dockerfile', 'operator.Dockerfile'])(
    '%s copies files that exist and runs the build steps script',
    (f) => {
      const text = readFileSync(join(DOCKER, f), 'utf8').replace(/\\\n/g, ' ');
      const copies = [...text.matchAll(/^\s*(?:COPY|ADD)\s+(?!--from)((?:--\S+\s+)*)(.+)$/gm)].map((m) => {
        const parts = (m[2] as string).trim().split(/\s+/);
        return parts.slice(0, -1);
      });
      expect(copies.length).toBeGreaterThan(0);
      for (const sources of copies)
        for (const s of sources) {
          if (s.includes('*')) {
            const dir = join(ROOT, s.slice(0, s.lastIndexOf('/') + 1));
            const re = new RegExp(
              `^${s
                .slice(s.lastIndexOf('/') + 1)
                .replace(/\./g, '\\.')
                .replace(/\*/g, '.*')}$`,
            );
            expect([s, readdirSync(dir).some((e) => re.test(e))]).toEqual([s, true]);
          } else expect([s, existsSync(join(ROOT, s))]).toEqual([s, true]);
        }
      // The build stage runs the same script `docker/build-steps.sh` runs without Docker.
      const steps = [...text.matchAll(/docker\/build-steps\.sh (\w+)/g)].filter((m) =>
        /^RUN /m.test(text.slice(text.lastIndexOf('\n', m.index) + 1, m.index)),
      );
      expect(steps.map((m) => m[1])).toEqual(expect.arrayContaining(['deps', 'build', 'stage']));
      const script = readFileSync(join(DOCKER, 'build-steps.sh'), 'utf8');
      for (const m of steps) expect([m[1], new RegExp(`^\\s*${m[1]}\\)`, 'm').test(script)]).toEqual([m[1], true]);
      // npm ci needs every workspace's package.json: each is copied before it.
      const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] })
        .workspaces;
      const beforeDeps = text.slice(0, text.indexOf('build-steps.sh deps'));
      for (const ws of workspaces) expect([ws, beforeDeps.includes(`COPY ${ws}/package.json`)]).toEqual([ws, true]);
      // The runtime's entrypoint names a binary the build made.
      const bins = [...text.matchAll(/ENTRYPOINT \["([^"]+)"/g)].map((m) => m[1]);
      expect(bins.length).toBe(1);
    },
  );
});
