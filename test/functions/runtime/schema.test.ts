import * as classic from 'zod';
import * as mini from 'zod/mini';
import { describe, expect, it } from 'vitest';
import { describeIssues } from '../../../functions/runtime/inbound-record.js';
import { checkSchema } from '../../../functions/runtime/schema.js';

describe('checkSchema', () => {
  const miniSchema = mini.object({ id: mini.string().check(mini.minLength(1)), count: mini._default(mini.int(), 0) });
  const classicSchema = classic.object({ id: classic.string().min(1), count: classic.int().default(0) });

  it('checks zod/mini and classic zod schemas alike, defaults applied', () => {
    for (const schema of [miniSchema, classicSchema]) {
      expect(checkSchema(schema, { id: 'a' })).toEqual({ success: true, data: { id: 'a', count: 0 } });
      const refused = checkSchema(schema, { id: '', count: 1.5 });
      expect(refused.success).toBe(false);
      expect(refused.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['id', 'count']);
    }
  });

});
