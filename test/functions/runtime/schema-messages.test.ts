// No classic zod in this file on purpose: classic zod switches English messages on when it loads, which would hide
// a missing locale in functions/runtime/schema.ts (the functions bundle zod/mini only).
import * as z from 'zod/mini';
import { describe, expect, it } from 'vitest';
import { describeIssues } from '../../../functions/runtime/inbound-record.js';
import { checkSchema } from '../../../functions/runtime/schema.js';

describe('schema messages', () => {
  it('reports built-in checks of zod/mini schemas in English, not as a bare "Invalid input"', () => {
    const refused = checkSchema(z.object({ id: z.string().check(z.minLength(1)) }), { id: '' });
    expect(refused.success).toBe(false);
    expect(describeIssues(refused.error!)).toBe('id: Too small: expected string to have >=1 characters');
  });
});
