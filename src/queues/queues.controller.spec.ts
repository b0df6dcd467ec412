import { Reflector } from '@nestjs/core';
import { ADMIN_ONLY } from '../identity/admin-only.decorator';
import { QueuesController } from './queues.controller';
import { PAUSE_QUEUES, SEE_QUEUES } from './queues.service';

describe('QueuesController', () => {
  it('marks every route admin-only, so the guard refuses anyone else with 403 before anything is read', () => {
    const reflector = new Reflector();
    const actions = (['index', 'pause', 'resume'] as const).map((route) =>
      reflector.get<string | undefined>(ADMIN_ONLY, QueuesController.prototype[route]),
    );
    expect(actions).toEqual([SEE_QUEUES, PAUSE_QUEUES, PAUSE_QUEUES]);
    const routes = Object.getOwnPropertyNames(QueuesController.prototype).filter((name) => name !== 'constructor');
    expect(routes.sort()).toEqual(['index', 'pause', 'resume']);
  });
});
