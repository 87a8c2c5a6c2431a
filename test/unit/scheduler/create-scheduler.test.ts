import { expect } from 'chai';
import { createScheduler, schedulerOptionsFromConfig } from '../../../lib/scheduler/index.js';
import { GiB, group } from './helpers.js';

describe('scheduler / createScheduler', () => {
  const config = {
    models: {
      a: { id: 'a', priority: 0, resources: {}, sleepy: true },
      b: { id: 'b', priority: 3, resources: { vram: 8 * GiB }, sleepy: false },
    },
    groups: [group('(default)', ['a', 'b'])],
    resources: {},
  };

  it('maps the configuration and asks the caller which models can sleep', () => {
    expect(schedulerOptionsFromConfig(config, (m) => m.sleepy, { maxBypassMs: 5 })).to.deep.equal({
      models: [
        { id: 'a', canSleep: true, priority: 0, resources: {} },
        { id: 'b', canSleep: false, priority: 3, resources: { vram: 8 * GiB } },
      ],
      groups: config.groups,
      budgets: {},
      maxBypassMs: 5,
    });
  });

  it('uses group mode when no budget is set, budget mode otherwise', () => {
    expect(createScheduler(config, () => true).snapshot().mode).to.equal('groups');
    expect(createScheduler({ ...config, resources: { vram: 24 * GiB } }, () => true).snapshot().mode).to.equal('budgets');
  });

  it('refuses groups that disagree with the models, listing every problem', () => {
    expect(() => createScheduler({ ...config, groups: [group('g', ['a', 'zz'])] }, () => true)).to.throw(
      'invalid scheduler options:\n- group "g" lists unknown model "zz"\n- model "b" is in no group; put ungrouped models in the default group',
    );
  });
});
